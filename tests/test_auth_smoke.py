from tests import factories as f


def test_signup_login_dashboard_logout(client, db):
    f.web_player()
    f.login(client)
    assert client.get("/dashboard").status_code == 200
    token = f.csrf_token(client, "/dashboard")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_login_form_rejects_missing_csrf(client, db):
    f.web_player()
    assert client.post("/login", data={"email": "player@example.com", "password": "correct horse"}).status_code == 400


def test_admin_pages_refuse_players(client, db):
    f.web_player()
    f.login(client)
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/api-keys").status_code == 403
