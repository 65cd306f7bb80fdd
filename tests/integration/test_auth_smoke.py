from tests import factories as f


def test_signup_login_dashboard_logout(client, auth, db):
    f.web_player()
    auth.login()
    assert client.get("/dashboard").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_login_form_rejects_missing_csrf(client, db):
    f.web_player()
    assert client.post("/login", data={"email": "player@example.com", "password": "correct horse"}).status_code == 400


def test_admin_pages_refuse_players(client, auth, db):
    f.web_player()
    auth.login()
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/api-keys").status_code == 403
