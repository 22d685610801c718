"""The web client's own modules, run in the browser against the server's references: the book
checksum against zlib.crc32 and the documented examples, money parsing and formatting, and the
parsing of the real /metrics text against prometheus_client's parser."""

from __future__ import annotations

import zlib

from prometheus_client.parser import text_string_to_metric_families

from tests.browser.helpers import cny


def test_book_checksum_matches_zlib_and_the_documented_examples(open_page, exchange):
    page = open_page()
    texts = ["1010:5|1020:3;1000:2|990:7", ";", ";1000:2", "-300:4;-500:1|-600:2"]
    books = exchange.get("/instruments", kind="CAP")[:5]
    for instrument in books:
        book = exchange.get(f"/instruments/{instrument['symbol']}/book", levels=10)
        asks = "|".join(f"{level['price']}:{level['quantity']}" for level in book["asks"])
        bids = "|".join(f"{level['price']}:{level['quantity']}" for level in book["bids"])
        texts.append(f"{asks};{bids}")
    computed = page.evaluate(
        """async (texts) => { const m = await import("/js/crc32.js"); return texts.map((t) => m.crc32(t)); }""",
        texts,
    )
    assert computed == [zlib.crc32(text.encode()) for text in texts]
    assert computed[:2] == [1109400464, 1661535913]  # docs/market-data.md
    from_levels = page.evaluate(
        """async () => { const m = await import("/js/crc32.js");
        return m.checksumText([[1010, 5, 1], [1020, 3, 2]], [[1000, 2, 1], [990, 7, 1]]); }"""
    )
    assert from_levels == texts[0]


def test_money_is_integer_fen_inside_and_cny_on_screen(open_page):
    page = open_page()
    cases = ["0", "12", "12.5", "12.50", "0.01", "1,234.56", "¥3.07", "99999999.99"]
    parsed = page.evaluate(
        """async (cases) => { const m = await import("/js/money.js"); return cases.map((c) => m.parseCny(c)); }""",
        cases,
    )
    assert parsed == [0, 1200, 1250, 1250, 1, 123456, 307, 9999999999]
    refused = page.evaluate(
        """async (cases) => { const m = await import("/js/money.js");
        return cases.map((c) => { try { m.parseCny(c); return null; } catch (e) { return e.code; } }); }""",
        ["", "1.234", "abc", "-5", "1e3", "0x10"],
    )
    assert refused == ["INVALID_INPUT"] * 6
    assert (
        page.evaluate(
            """async () => (await import("/js/money.js")).parseCny("-5.25", { allowNegative: true })"""
        )
        == -525
    )
    amounts = [0, 1, 99, 100, 123456, -500, 10**15]
    shown = page.evaluate(
        """async (amounts) => { const m = await import("/js/money.js"); return amounts.map((a) => m.formatCny(a)); }""",
        amounts,
    )
    assert shown == [cny(a) for a in amounts]


def test_metrics_parsing_agrees_with_prometheus_client(open_page, exchange):
    page = open_page()
    text = exchange.http.get(exchange.base_url + "/metrics").text
    ours = page.evaluate(
        """async (text) => { const m = await import("/js/metrics.js"); return m.snapshot(m.parsePrometheus(text), 0); }""",
        text,
    )
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def total(name: str) -> float:
        return sum(s.value for s in samples if s.name == name)

    assert ours["commands"] == total("capex_commands_total") > 0
    assert ours["latencyCount"] == total("capex_command_latency_seconds_count")
    assert ours["websockets"] == total("capex_websockets_connected")
    assert ours["queueDepth"] == total("capex_command_queue_depth")
