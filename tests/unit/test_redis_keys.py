"""The leaderboard keys one Lua upsert or MULTI/EXEC touches together hash to one Redis Cluster slot
(else the cluster answers CROSSSLOT); different boards may land anywhere."""

from redis.crc import key_slot

from gamify.services.leaderboards import closed_key, hkey, meta_key, zkey


def test_every_key_of_a_board_shares_the_boards_slot():
    keys = [
        zkey("weekly", "2026-01-05", "global"),
        hkey("weekly", "2026-01-05", "city:rome"),
        meta_key("weekly"),
        closed_key("weekly", "2026-01-05"),
        zkey("weekly", "all", "tier:gold"),
    ]
    # the hash tag is the board key: CRC16 of "weekly" only, whatever the period and segment
    assert {key_slot(k.encode()) for k in keys} == {key_slot(b"weekly")}


def test_the_tag_is_the_board_key_alone():
    # two boards whose names share a prefix still get their own tags (and so, usually, their own slots)
    assert key_slot(meta_key("lessons").encode()) == key_slot(b"lessons")
    assert key_slot(meta_key("lessons-2").encode()) == key_slot(b"lessons-2") != key_slot(b"lessons")
