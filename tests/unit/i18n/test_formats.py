"""Language negotiation, locale formats and wall-time parsing: pure functions, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketplace import i18n

MOMENT = datetime(2026, 12, 7, 19, 40, tzinfo=UTC)


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans"),
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    ("fr-FR,zh-Hans;q=0.7,en;q=0.5", "zh_Hans"),
    ("zh-TW", "en"),  # Traditional Chinese is not offered: English, not the wrong script
    ("en;q=0.2, zh-CN;q=0.9", "zh_Hans"),
    ("zh-CN;q=0", "en"),
    ("", "en"),
    (None, "en"),
    ("de, fr", "en"),
])
def test_accept_language_negotiation(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_zones_are_iana_names_only() -> None:
    assert i18n.normalise_zone("Asia/Shanghai") == "Asia/Shanghai"
    assert i18n.normalise_zone("utc") == "UTC"
    for bad in ("", "Mars/Olympus", "../etc/passwd", "Asia/Shanghai" * 10, None):
        assert i18n.normalise_zone(bad) is None
    assert i18n.zone_choices()[0] == "UTC" and "America/Los_Angeles" in i18n.zone_choices()


def test_a_moment_in_each_viewers_zone_and_language() -> None:
    assert i18n.format_datetime(MOMENT, zone="UTC", locale="en") == "07 Dec 2026, 19:40 UTC"
    assert i18n.format_datetime(MOMENT, zone="America/Los_Angeles", locale="en") == "07 Dec 2026, 11:40 Pacific Time"
    assert i18n.format_datetime(MOMENT, zone="Asia/Shanghai", locale="zh_Hans") == "2026年12月8日 03:40 中国时间"
    assert i18n.format_date(MOMENT, zone="Asia/Shanghai", locale="zh_Hans") == "2026年12月8日"
    assert i18n.format_date(MOMENT, zone="America/Los_Angeles", locale="en") == "07 Dec 2026"


def test_money_stays_integer_minor_units_and_is_shown_per_locale() -> None:
    assert i18n.format_money(123456, "USD", locale="en") == "$1,234.56"
    assert i18n.format_money(123456, "USD", locale="zh_Hans") == "US$1,234.56"
    assert i18n.format_money(1500, "JPY", locale="en") == "¥1,500"
    assert i18n.format_money(-250, "EUR", locale="en") == "-€2.50"
    assert i18n.format_money(None) == "—"
    assert i18n.format_number(1234567, locale="en") == "1,234,567"


def test_relative_times_in_the_viewers_language() -> None:
    now = datetime(2026, 12, 4, 19, 40, tzinfo=UTC)
    assert i18n.format_relative(MOMENT, now, locale="en") == "in 3 days"
    assert i18n.format_relative(MOMENT, now, locale="zh_Hans") == "3天后"
    assert i18n.format_relative(now, now, locale="en") == "now"


def test_wall_time_is_read_in_the_authors_zone() -> None:
    assert i18n.parse_local_datetime("2026-12-20T10:00", "Asia/Shanghai") == datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
    assert i18n.parse_local_datetime("2026-07-01T09:00", "America/Los_Angeles") == datetime(2026, 7, 1, 16, 0,
                                                                                           tzinfo=UTC)
    # A time skipped by the spring DST change still maps to one moment (zoneinfo's fold=0 reading).
    assert i18n.parse_local_datetime("2026-03-08T02:30", "America/Los_Angeles") == datetime(2026, 3, 8, 10, 30,
                                                                                           tzinfo=UTC)
    # An explicit offset wins over the zone.
    assert i18n.parse_local_datetime("2026-12-20T10:00+00:00", "Asia/Shanghai") == datetime(2026, 12, 20, 10, 0,
                                                                                           tzinfo=UTC)
    with pytest.raises(ValueError):
        i18n.parse_local_datetime("next tuesday", "UTC")
    assert i18n.to_local_input(datetime(2026, 12, 20, 2, 0, tzinfo=UTC), "Asia/Shanghai") == "2026-12-20T10:00"


def test_messages_are_translated_when_shown_not_when_made() -> None:
    notice = i18n.Message(i18n.N_("From %(current)s to %(proposed)s. %(reason)s"), current=MOMENT,
                          proposed=MOMENT, reason="")
    with i18n.use_locale("zh_Hans", "Asia/Shanghai"):
        chinese = str(notice)
    with i18n.use_locale("en", "America/Los_Angeles"):
        english = str(notice)
    assert chinese.startswith("从 2026年12月8日 03:40 中国时间")
    assert english.startswith("From 07 Dec 2026, 11:40 Pacific Time")


def test_use_locale_restores_the_request_language() -> None:
    i18n.set_locale("en", "UTC")
    with i18n.use_locale("zh_Hans", "Asia/Shanghai"):
        assert (i18n.current_locale(), i18n.current_zone()) == ("zh_Hans", "Asia/Shanghai")
        assert i18n.gettext("Sign in") == "登录"
    assert (i18n.current_locale(), i18n.current_zone()) == ("en", "UTC")
    assert i18n.gettext("Sign in") == "Sign in"
