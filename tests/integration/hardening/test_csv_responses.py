"""Every CSV download names its charset once (Litestar appends it to text/* types; we used to name it as well). The
exports use ``csvfiles.CSV_MEDIA_TYPE``; the before-send hook in ``marketplace/headers.py`` keeps one charset for any
route that still names it (new routes are found by walking the app's routes)."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler


async def test_every_csv_download_sends_one_charset(app, make_web, people) -> None:
    brand, creator, admin = await people.brand(), await people.creator(), await people.admin()
    webs = []
    for person in (brand, creator, admin):
        web = await make_web()
        await web.sign_in(person.email, person.password)
        webs.append(web)
    paths = sorted({route.path for route in app.routes
                    if route.path.endswith(".csv") and "{" not in route.path and not route.path.startswith("/api/")
                    and any(isinstance(h, HTTPRouteHandler) for h in getattr(route, "route_handlers", []))})
    assert "/admin/audit.csv" in paths and "/brand/payments/statement.csv" in paths
    checked = []
    for path in paths:
        for web in webs:
            response = await web.get(path)
            if response.status_code == 200:
                assert response.headers["content-type"] == "text/csv; charset=utf-8", path
                checked.append(path)
    assert {"/admin/audit.csv", "/brand/payments/statement.csv", "/creator/payments/statement.csv"} <= set(checked)
