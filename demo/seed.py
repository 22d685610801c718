"""The demo market's scenario: who is in it, what is listed, the index history and the orders.

What the seed creates (all through the gateway, as commands, so it is journaled like any trading
day; docs/demo.md tells the story):

- logins for an operator, an index feed, two creators, four suppliers and a market maker, all with
  the documented demo password (DEMO_PASSWORD; demo only);
- supplier capacity for three processes in the two weeks before the next Double 11 (Nov 11) and
  the next Mid-Autumn festival, and capacity options on those windows at several strikes, written
  by the suppliers (resting sells that lock the capacity);
- an index price history for special black ink and special art paper, and material calls on them;
- a capacity swap between the two Double 11 weeks of notebook printing;
- cash for everyone who trades, some trades already done (books, trades and charts have data) and
  resting bids, so every book is two-sided.

The module only decides and builds commands: it reaches the exchange through the `SeedGateway`
and the login store through the `SeedLogins` it is given (demo/serve.py gives it the app's gateway
and database). Dates come from the clock given to `seed_demo`, so a seed run in a later year lists
that year's festivals. The seed runs only when the exchange has no instrument: a second start
seeds nothing.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from exchange import commands as cmd
from exchange.accounts import SYSTEM_ACCOUNT_ID, Role
from exchange.results import CommandResult

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS

# One password for every demo login, printed at start and written in docs/demo.md: the demo is a
# local playground, never a deployment.
DEMO_PASSWORD = "capex-demo"


class DemoSeedError(RuntimeError):
    """The exchange refused a command of the seed: the seed and the exchange's rules disagree."""


# -- WHO IS IN THE DEMO ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    description: str


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin(Role.OPERATOR, "demo-operator", DEMO_PASSWORD, "runs the market: listings, expiry, halts"),
    DemoLogin(Role.INDEX_FEED, "demo-indexfeed", DEMO_PASSWORD, "publishes the ink and paper indexes"),
    DemoLogin(Role.CREATOR, "demo-creator", DEMO_PASSWORD, "notebook creator preparing Double 11"),
    DemoLogin(Role.CREATOR, "demo-creator2", DEMO_PASSWORD, "creator preparing Mid-Autumn gift sets"),
    DemoLogin(Role.SUPPLIER, "demo-printer", DEMO_PASSWORD, "prints notebooks, die-cuts stickers"),
    DemoLogin(Role.SUPPLIER, "demo-stickers", DEMO_PASSWORD, "sticker die-cutting shop"),
    DemoLogin(Role.SUPPLIER, "demo-penline", DEMO_PASSWORD, "pen assembly line"),
    DemoLogin(
        Role.SUPPLIER, "demo-materials", DEMO_PASSWORD, "ink and paper merchant, writes material calls"
    ),
    DemoLogin(Role.MARKET_MAKER, "demo-marketmaker", DEMO_PASSWORD, "quotes both sides"),
)

# Cash deposited at seed time, in fen (1 CNY = 100 fen).
DEMO_CASH: dict[str, int] = {
    "demo-creator": 5_000_000,
    "demo-creator2": 5_000_000,
    "demo-printer": 200_000,  # suppliers lock only fees in cash; capacity backs their options
    "demo-stickers": 200_000,
    "demo-penline": 200_000,
    "demo-materials": 10_000_000,  # a material-call writer locks the worst-case payoff in cash
    "demo-marketmaker": 20_000_000,
}


@dataclass(frozen=True)
class DemoInfo:
    """What the demo offers, independent of the URL it is served at. `seeded`: this call created
    the market (False: the database already had instruments)."""

    seeded: bool
    logins: tuple[DemoLogin, ...]
    symbols: tuple[str, ...]


# -- WHAT THE SEED IS GIVEN -----------------------------------------------------------------------


class SeedGateway(Protocol):
    """The exchange as the seed uses it (api.gateway.Gateway is one): commands in, results out."""

    async def submit_many(self, commands: Sequence[cmd.Command]) -> list[CommandResult]: ...

    async def query(self, name: str, *args: Any) -> Any: ...


class SeedLogins(Protocol):
    """The login store (usernames and password hashes live beside the exchange, not in it)."""

    async def account_ids(self, usernames: Sequence[str]) -> dict[str, int]:
        """Account id per username that has a login; the others are absent."""
        ...

    async def register(self, login: DemoLogin) -> int:
        """Open an account with this login (its role and password); the new account's id."""
        ...


# -- CALENDAR -------------------------------------------------------------------------------------

# The Mid-Autumn festival is the 15th day of the 8th lunar month; its Gregorian dates, checked
# against a lunar calendar library. The demo does not depend on such a library for one date a year.
MID_AUTUMN: dict[int, date] = {
    2026: date(2026, 9, 25), 2027: date(2027, 9, 15), 2028: date(2028, 10, 3), 2029: date(2029, 9, 22),
    2030: date(2030, 9, 12), 2031: date(2031, 10, 1), 2032: date(2032, 9, 19), 2033: date(2033, 9, 8),
    2034: date(2034, 9, 27), 2035: date(2035, 9, 16), 2036: date(2036, 10, 4), 2037: date(2037, 9, 24),
    2038: date(2038, 9, 13), 2039: date(2039, 10, 2), 2040: date(2040, 9, 20), 2041: date(2041, 9, 10),
    2042: date(2042, 9, 28), 2043: date(2043, 9, 17), 2044: date(2044, 10, 5), 2045: date(2045, 9, 25),
    2046: date(2046, 9, 15), 2047: date(2047, 10, 4), 2048: date(2048, 9, 22), 2049: date(2049, 9, 11),
    2050: date(2050, 9, 30),
}  # fmt: skip

PRODUCTION_WEEKS = 2  # delivery windows: the whole ISO weeks just before a festival
EXERCISE_LEAD_DAYS = 3  # a capacity option's exercise deadline: this long before its window
MIN_LEAD_DAYS = 14  # a festival is "next" while its first deadline is at least this far ahead
SETTLEMENT_WINDOW_DAYS = 7  # a material call settles on the index average of its last week


def double_11(year: int) -> date:
    return date(year, 11, 11)


def mid_autumn(year: int) -> date:
    if year not in MID_AUTUMN:
        raise ValueError(f"the Mid-Autumn date of {year} is not in demo.seed.MID_AUTUMN")
    return MID_AUTUMN[year]


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


@dataclass(frozen=True)
class Season:
    """The production weeks before one festival day. Windows are [start, end) in ms, earliest
    first; each is a whole ISO week (Monday 00:00 UTC to the next Monday), so symbols read
    `2027W44`."""

    name: str
    festival: date
    windows: tuple[tuple[int, int], ...]

    @property
    def first_deadline(self) -> int:
        return self.windows[0][0] - EXERCISE_LEAD_DAYS * DAY_MS


def season_before(name: str, festival: date) -> Season:
    last_monday = festival - timedelta(days=festival.weekday())  # on or before the festival
    end = _day_ms(last_monday)
    starts = [end - WEEK_MS * (PRODUCTION_WEEKS - i) for i in range(PRODUCTION_WEEKS)]
    return Season(name, festival, tuple((start, start + WEEK_MS) for start in starts))


def next_season(name: str, festival_in: Callable[[int], date], now: int) -> Season:
    """The first season of the festival whose first exercise deadline is MIN_LEAD_DAYS from now."""
    year = datetime.fromtimestamp(now // 1000, tz=UTC).year
    for candidate in (year, year + 1, year + 2):
        season = season_before(name, festival_in(candidate))
        if season.first_deadline >= now + MIN_LEAD_DAYS * DAY_MS:
            return season
    raise AssertionError("a festival happens every year")  # pragma: no cover


def demo_seasons(now: int) -> tuple[Season, Season]:
    """(Double 11, Mid-Autumn): the next of each, relative to `now` (ms since epoch, UTC)."""
    return next_season("Double 11", double_11, now), next_season("Mid-Autumn", mid_autumn, now)


# -- WHAT IS LISTED, AND AT WHAT PRICES -----------------------------------------------------------


@dataclass(frozen=True)
class ProcessSpec:
    """A certified production process and how its capacity options are priced in the demo.

    Fen per production unit: `unit_cost` (a usual price), the strikes, and `peak_premium` (the
    at-the-money premium the week before Double 11: 500 fen, the design's reference case of
    500 CNY for 100 units)."""

    process: str
    unit_cost: int
    strikes: tuple[int, ...]
    peak_premium: int
    suppliers: tuple[str, ...]  # usernames that register capacity and write the options


PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec("notebook-a5-print", 3_000, (2_800, 3_000, 3_200), 500, ("demo-printer",)),
    ProcessSpec("sticker-die-cut", 320, (300, 350), 50, ("demo-stickers", "demo-printer")),
    ProcessSpec("pen-assembly", 850, (800, 900), 120, ("demo-penline",)),
)
CAP_UNITS_PER_CONTRACT = 100
CAP_TICK = 100  # fen: premiums move in whole CNY
CAP_MAX_PRICE = 10_000_000
CAPACITY_PER_WINDOW = 10_000  # units each supplier registers per process and window
# Capacity is scarcer before Double 11 than before Mid-Autumn, and in the week right before a
# festival than in the week earlier: premiums in percent of the Double 11 festival week.
SEASON_PREMIUM_PERCENT = {"Double 11": 100, "Mid-Autumn": 70}
WEEK_PREMIUM_PERCENT = (85, 100)  # earliest window first


@dataclass(frozen=True)
class MaterialSpec:
    """A material index and the calls listed on it. Prices in fen per unit of material."""

    material: str
    index: str
    history: tuple[int, ...]  # published oldest first; the last is the current index level
    strikes: tuple[int, ...]
    cap_above_strike: int  # the payoff is capped at this much per unit
    units_per_contract: int


MATERIALS: tuple[MaterialSpec, ...] = (
    MaterialSpec(
        "special-black-ink",
        "INK-BLACK-SPECIAL",
        (7_600, 7_640, 7_610, 7_700, 7_750, 7_720, 7_800, 7_860, 7_840, 7_920, 7_980, 8_000),
        (8_000, 8_400, 8_800),
        1_600,
        10,  # kg
    ),
    MaterialSpec(
        "special-art-paper",
        "PAPER-ART-SPECIAL",
        (1_450, 1_455, 1_460, 1_452, 1_465, 1_470, 1_478, 1_475, 1_485, 1_490, 1_496, 1_500),
        (1_500, 1_600, 1_700),
        300,
        100,  # kg
    ),
)
MAT_TICK = 10
MATERIAL_WRITER = "demo-materials"
INDEX_FEED = "demo-indexfeed"
MARKET_MAKER = "demo-marketmaker"
SEASON_CREATOR = {"Double 11": "demo-creator", "Mid-Autumn": "demo-creator2"}

# The swap: notebook printing, Double 11, the strike at the unit cost; the buyer gives the earlier
# week and receives the festival week (the scarcer one), paying a fee per contract.
SWAP_PROCESS = "notebook-a5-print"
SWAP_STRIKE = 3_000
SWAP_TICK = 100
SWAP_FEE = 3_000  # fen per contract of the trade already done
SWAP_LIMIT = 1_000_000
SWAP_SELLER = SEASON_CREATOR["Double 11"]  # holds the festival week: gives it for the earlier one
SWAP_BUYER = SEASON_CREATOR["Mid-Autumn"]  # buys the earlier week in the seed, to give it


def _round_to_tick(price: int, tick: int) -> int:
    return max(tick, price // tick * tick)


def capacity_premium(spec: ProcessSpec, strike: int, season: str, week: int) -> int:
    """Fair premium per contract (fen) of a capacity option: lower strikes cost more."""
    per_unit = max(spec.peak_premium + (spec.unit_cost - strike) // 2, spec.peak_premium // 5)
    premium = per_unit * CAP_UNITS_PER_CONTRACT * SEASON_PREMIUM_PERCENT[season] * WEEK_PREMIUM_PERCENT[week]
    return _round_to_tick(premium // 10_000, CAP_TICK)


def material_premium(spec: MaterialSpec, strike: int) -> int:
    """Fair premium per contract (fen) of a material call: intrinsic value plus a time value of
    5% of the index, less for strikes further out of the money; never above the capped payoff."""
    index = spec.history[-1]
    time_value = index * 5 // 100
    out_of_money = max(strike - index, 0)
    per_unit = max(index - strike, 0) + max(time_value - out_of_money // 2, time_value // 5)
    per_unit = min(per_unit, spec.cap_above_strike)
    return _round_to_tick(per_unit * spec.units_per_contract, MAT_TICK)


def _scaled(price: int, percent: int, tick: int) -> int:
    return _round_to_tick(price * percent // 100, tick)


# Suppliers' asks: (percent of the fair premium, contracts); a second writer of the same process
# quotes a little higher, so the book shows several price levels.
CAP_ASK_LADDER = ((100, 4), (105, 6), (110, 10))
CAP_SECOND_WRITER_MARKUP = 2
MAT_ASK_LADDER = ((100, 5), (105, 10))
CAP_BID_LADDER = ((90, 2), (85, 3))  # the season's creator, below the asks
MAT_BID_LADDER = ((90, 3),)
MARKET_MAKER_LIFT = 2  # contracts the market maker buys of every capacity option (its inventory)
CREATOR_LIFT_CAP = 3  # contracts the season's creator buys of each festival-week option
CREATOR_LIFT_MAT = 6  # contracts the season's creator buys of each material call


@dataclass
class _Listing:
    symbol: str
    kind: str
    fair: int  # fen per contract
    tick: int
    season: str
    expiry: int  # ms since epoch
    week: int = 0  # CAP: index of its window in the season (the last is the festival week)
    process: str = ""
    strike: int = 0
    writers: tuple[str, ...] = ()


# -- THE SEED -------------------------------------------------------------------------------------


class _Seed:
    """Submits the seed's commands through the gateway and checks every answer."""

    def __init__(self, gateway: SeedGateway, accounts: dict[str, int]) -> None:
        self.gateway = gateway
        self.accounts = accounts
        self._order_counter: dict[str, int] = defaultdict(int)

    async def submit(self, commands: Sequence[cmd.Command]) -> list[CommandResult]:
        results = await self.gateway.submit_many(commands)
        for command, result in zip(commands, results, strict=True):
            if not result.ok:
                raise DemoSeedError(f"{command!r} was refused: {result.code_name} {result.message}")
        return results

    def order(
        self, username: str, symbol: str, side: str, price: int, quantity: int, order_type: str = "limit"
    ) -> cmd.PlaceOrder:
        self._order_counter[username] += 1
        return cmd.PlaceOrder(
            actor_id=self.accounts[username],
            symbol=symbol,
            client_order_id=f"demo-seed-{self._order_counter[username]}",
            side=side,
            order_type=order_type,
            price=price,
            quantity=quantity,
        )


async def _open_accounts(logins: SeedLogins) -> dict[str, int]:
    """Account id per demo username; logins that exist already (a first start interrupted after
    opening them) are reused."""
    accounts = await logins.account_ids([login.username for login in DEMO_LOGINS])
    for login in DEMO_LOGINS:
        if login.username not in accounts:
            accounts[login.username] = await logins.register(login)
    return accounts


async def _publish_index_history(seed: _Seed) -> None:
    """Each point is its own command, a few ms apart: the gateway stamps commands with its clock
    (the sequencer keeps an index's prices in time order), so the history is the last moments
    before the seed; the latest price holds until the feed publishes again, which is what a
    material call's settlement average starts from."""
    feed = seed.accounts[INDEX_FEED]
    for points in zip(*(spec.history for spec in MATERIALS), strict=True):
        await seed.submit(
            [
                cmd.PublishIndexPrice(actor_id=feed, index=spec.index, price=price)
                for spec, price in zip(MATERIALS, points, strict=True)
            ]
        )
        await asyncio.sleep(0.002)


def _listing_commands(
    seasons: Sequence[Season], trading_start: int
) -> tuple[list[cmd.ListInstrument], list[_Listing]]:
    commands: list[cmd.ListInstrument] = []
    listings: list[_Listing] = []
    for season in seasons:
        for week, (start, end) in enumerate(season.windows):
            deadline = start - EXERCISE_LEAD_DAYS * DAY_MS
            for spec in PROCESSES:
                for strike in spec.strikes:
                    option_terms = cmd.CapacityOptionTerms(
                        process=spec.process,
                        window_start=start,
                        window_end=end,
                        strike=strike,
                        units_per_contract=CAP_UNITS_PER_CONTRACT,
                        exercise_deadline=deadline,
                    )
                    commands.append(
                        cmd.ListInstrument(
                            actor_id=SYSTEM_ACCOUNT_ID,
                            terms=option_terms,
                            tick=CAP_TICK,
                            lot=1,
                            min_price=CAP_TICK,
                            max_price=CAP_MAX_PRICE,
                            trading_start=trading_start,
                            expiry=deadline,
                        )
                    )
                    listings.append(
                        _Listing(
                            symbol="",
                            kind="CAP",
                            fair=capacity_premium(spec, strike, season.name, week),
                            tick=CAP_TICK,
                            season=season.name,
                            expiry=deadline,
                            week=week,
                            process=spec.process,
                            strike=strike,
                            writers=spec.suppliers,
                        )
                    )
        # Material calls expire when the season's production starts (when the material is bought).
        expiry = season.windows[0][0]
        for material in MATERIALS:
            for strike in material.strikes:
                cap = strike + material.cap_above_strike
                call_terms = cmd.MaterialCallTerms(
                    material=material.material,
                    index=material.index,
                    strike=strike,
                    cap=cap,
                    units_per_contract=material.units_per_contract,
                    settlement_window_start=expiry - SETTLEMENT_WINDOW_DAYS * DAY_MS,
                )
                commands.append(
                    cmd.ListInstrument(
                        actor_id=SYSTEM_ACCOUNT_ID,
                        terms=call_terms,
                        tick=MAT_TICK,
                        lot=1,
                        min_price=MAT_TICK,
                        max_price=material.cap_above_strike * material.units_per_contract,
                        trading_start=trading_start,
                        expiry=expiry,
                    )
                )
                listings.append(
                    _Listing(
                        symbol="",
                        kind="MAT",
                        fair=material_premium(material, strike),
                        tick=MAT_TICK,
                        season=season.name,
                        expiry=expiry,
                        strike=strike,
                        writers=(MATERIAL_WRITER,),
                    )
                )
    return commands, listings


async def _list_swap(seed: _Seed, listings: list[_Listing], trading_start: int) -> tuple[str, str, str]:
    """(swap symbol, earlier-week leg, festival-week leg) of the notebook Double 11 swap."""
    legs = sorted(
        (
            listing
            for listing in listings
            if listing.kind == "CAP"
            and listing.season == "Double 11"
            and listing.process == SWAP_PROCESS
            and listing.strike == SWAP_STRIKE
        ),
        key=lambda listing: listing.week,
    )
    early, late = legs[0], legs[-1]
    (result,) = await seed.submit(
        [
            cmd.ListInstrument(
                actor_id=SYSTEM_ACCOUNT_ID,
                terms=cmd.CapacitySwapTerms(give_symbol=early.symbol, receive_symbol=late.symbol),
                tick=SWAP_TICK,
                lot=1,
                min_price=-SWAP_LIMIT,
                max_price=SWAP_LIMIT,
                trading_start=trading_start,
                expiry=min(early.expiry, late.expiry),  # a swap expires no later than its legs
            )
        ]
    )
    return result.data["symbol"], early.symbol, late.symbol


def _writer_asks(seed: _Seed, listings: list[_Listing]) -> list[cmd.PlaceOrder]:
    ladder = {"CAP": CAP_ASK_LADDER, "MAT": MAT_ASK_LADDER}
    orders = []
    for listing in listings:
        for rank, writer in enumerate(listing.writers):
            for percent, quantity in ladder[listing.kind]:
                price = _scaled(listing.fair, percent + rank * CAP_SECOND_WRITER_MARKUP, listing.tick)
                orders.append(seed.order(writer, listing.symbol, "sell", price, quantity))
    return orders


def _trades(seed: _Seed, listings: list[_Listing], swap_early_leg: str) -> list[cmd.PlaceOrder]:
    """Buys that cross the writers' asks (IOC: nothing of them rests)."""
    orders = []
    festival_week = PRODUCTION_WEEKS - 1
    for listing in listings:
        creator = SEASON_CREATOR[listing.season]
        second_level = _scaled(listing.fair, 105, listing.tick)
        if listing.kind == "CAP":
            orders.append(
                seed.order(MARKET_MAKER, listing.symbol, "buy", listing.fair, MARKET_MAKER_LIFT, "ioc")
            )
            if listing.week == festival_week:
                orders.append(
                    seed.order(creator, listing.symbol, "buy", second_level, CREATOR_LIFT_CAP, "ioc")
                )
            if listing.symbol == swap_early_leg:
                # the swap's buyer gives the earlier week: it must hold it
                orders.append(
                    seed.order(SWAP_BUYER, listing.symbol, "buy", second_level, CREATOR_LIFT_CAP, "ioc")
                )
        else:
            orders.append(seed.order(creator, listing.symbol, "buy", second_level, CREATOR_LIFT_MAT, "ioc"))
    return orders


def _bids(seed: _Seed, listings: list[_Listing]) -> list[cmd.PlaceOrder]:
    ladder = {"CAP": CAP_BID_LADDER, "MAT": MAT_BID_LADDER}
    return [
        seed.order(
            SEASON_CREATOR[listing.season],
            listing.symbol,
            "buy",
            _scaled(listing.fair, percent, listing.tick),
            quantity,
        )
        for listing in listings
        for percent, quantity in ladder[listing.kind]
    ]


def _swap_orders(seed: _Seed, swap: str) -> list[cmd.PlaceOrder]:
    """The seller holds the festival week (bought as Double 11's creator), the buyer the earlier
    week: one trade at SWAP_FEE, then a resting bid and ask around it."""
    seller, buyer = SWAP_SELLER, SWAP_BUYER
    return [
        seed.order(seller, swap, "sell", SWAP_FEE, 1),
        seed.order(buyer, swap, "buy", SWAP_FEE, 1),
        seed.order(seller, swap, "sell", SWAP_FEE + 1_000, 1),
        seed.order(buyer, swap, "buy", SWAP_FEE - 1_000, 1),
    ]


async def _existing_logins(logins: SeedLogins) -> tuple[DemoLogin, ...]:
    existing = await logins.account_ids([login.username for login in DEMO_LOGINS])
    return tuple(login for login in DEMO_LOGINS if login.username in existing)


async def seed_demo(gateway: SeedGateway, logins: SeedLogins, clock_ms: int) -> DemoInfo:
    """Seed the demo market when the exchange has no instrument; `clock_ms` (ms since epoch, UTC)
    places the festivals. Idempotent: on an exchange with instruments nothing is submitted, and
    the answer lists the demo logins that exist there.

    Raises DemoSeedError when the exchange refuses a command of the seed."""
    instruments = await gateway.query("instruments")
    if instruments:
        symbols = tuple(sorted(item["symbol"] for item in instruments))
        return DemoInfo(seeded=False, logins=await _existing_logins(logins), symbols=symbols)

    seasons = demo_seasons(clock_ms)
    trading_start = clock_ms - clock_ms % DAY_MS  # the UTC day of the seed
    accounts = await _open_accounts(logins)
    seed = _Seed(gateway, accounts)

    funding: list[cmd.Command] = [
        cmd.Deposit(actor_id=SYSTEM_ACCOUNT_ID, account_id=accounts[name], amount=amount)
        for name, amount in DEMO_CASH.items()
    ]
    for season in seasons:
        for start, end in season.windows:
            for spec in PROCESSES:
                funding.extend(
                    cmd.RegisterCapacity(
                        actor_id=accounts[supplier],
                        process=spec.process,
                        window_start=start,
                        window_end=end,
                        units=CAPACITY_PER_WINDOW,
                    )
                    for supplier in spec.suppliers
                )
    await seed.submit(funding)
    await _publish_index_history(seed)

    listing_commands, listings = _listing_commands(seasons, trading_start)
    for listing, result in zip(listings, await seed.submit(listing_commands), strict=True):
        listing.symbol = result.data["symbol"]
    swap, early_leg, _ = await _list_swap(seed, listings, trading_start)

    await seed.submit(_writer_asks(seed, listings))
    await seed.submit(_trades(seed, listings, early_leg))
    await seed.submit(_bids(seed, listings) + _swap_orders(seed, swap))

    symbols = tuple(sorted([listing.symbol for listing in listings] + [swap]))
    return DemoInfo(seeded=True, logins=DEMO_LOGINS, symbols=symbols)
