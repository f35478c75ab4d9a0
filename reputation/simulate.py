"""Seeded marketplace simulation: brands pick creators by followers, by stars, or by PostPact's ranking.

Long because the simulation is one model (worlds, strategies, report) read top to bottom.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from reputation.events import EventKind
from reputation.scoring import (
    Evidence,
    apply_outcome,
    decay,
    expected_reliability,
    outcome_for,
    ranking_key,
    rater_weight_from_counts,
    rating_outcome,
    value_weight,
)
from reputation.tiers import (
    TIER_RULES,
    GigRequirements,
    Tier,
    TierRule,
    TrackRecord,
    as_person,
    eligibility,
    is_suspended,
    ranking_evidence,
    tier_for,
)

START = datetime(2026, 1, 5, tzinfo=UTC)
WEEK = timedelta(days=7)
USD_EXPONENT = 2
# Ground truth for flagging: a creator who would ghost at least one deal in four.
GHOST_PRONE_AT = 0.25
# Newcomers count as placed when their first deal comes within this many weeks of joining.
PLACEMENT_WEEKS = 12

FOLLOWERS = "followers"
STARS = "stars"
POSTPACT = "postpact"
RANK_ONLY = "rank_only"
STRATEGIES: tuple[str, ...] = (FOLLOWERS, STARS, POSTPACT, RANK_ONLY)
#: Not a strategy: (c) again, with whitewashers who never reuse a delivery address (so accounts can't be linked).
MOVING = "postpact_moving"
LABELS = {
    FOLLOWERS: "(a) follower count",
    STARS: "(b) mean star rating",
    POSTPACT: "(c) PostPact ranking + tiers",
    RANK_ONLY: "(c') ranking, no tier gating",
    MOVING: "(c), moving house each time",
}


@dataclass(frozen=True, slots=True, eq=False)
class CreatorType:
    """A latent behaviour profile: mean per-deal probabilities of each way a deal can go wrong."""

    name: str
    share: float
    ghost: float
    late: float
    removed: float
    cancel: float


# The mix is set so that about 80% of deals get a post (Hashgifted's figure for gifted creators) while a quarter of
# creators are ghost-prone, which is how one brand met "12 of 15 dragged on or vanished" with bad luck.
CREATOR_TYPES: tuple[CreatorType, ...] = (
    CreatorType("reliable", 0.55, ghost=0.03, late=0.10, removed=0.01, cancel=0.02),
    CreatorType("flaky", 0.20, ghost=0.12, late=0.35, removed=0.04, cancel=0.05),
    CreatorType("ghost-prone", 0.25, ghost=0.50, late=0.25, removed=0.08, cancel=0.05),
)
WHITEWASHER = CreatorType("whitewasher", 0.0, ghost=0.90, late=0.05, removed=0.0, cancel=0.0)
TWIN = CreatorType("persistent twin", 0.0, ghost=0.90, late=0.05, removed=0.0, cancel=0.0)


@dataclass(frozen=True, slots=True)
class Config:
    """Simulation parameters; the defaults run in a few seconds."""

    seed: int = 1
    rounds: int = 104  # weeks
    creators: int = 300
    brands: int = 60
    gigs_per_round: int = 50
    applicants: int = 6
    whitewashers: int = 4
    eagerness: float = 0.05  # chance a whitewasher (or its twin) applies to any one gig: 2-3 a week
    churn: float = 0.01  # weekly chance an ordinary creator leaves and a newcomer takes the slot
    replicates: int = 3
    inflated_raters: float = 0.7  # share of brands that give 5 stars to almost anything delivered
    tier_rules: tuple[TierRule, ...] = TIER_RULES
    # The product links accounts that take products at one delivery address (``marketplace.creators.addresses``):
    # ghostings there count for every such account. A whitewasher who keeps its address is caught by that; one who
    # moves to a new address (and a new audience: handles stay with their account) for every account is not.
    whitewasher_moves: bool = False
    # Share of creators whose first account is backed by a connected social account with real history (a verified
    # audience); it counts as a little evidence for a newcomer in ranking. A whitewasher's later accounts have new,
    # empty audiences (a handle stays with the account it was named in), so they never get it.
    verified_share: float = 0.7


@dataclass(frozen=True, slots=True)
class Person:
    """A creator as they really are; a whitewasher is one person behind many accounts."""

    pid: int
    kind: CreatorType
    ghost: float
    late: float
    removed: float
    cancel: float
    followers: int
    capacity: int

    @property
    def ghost_prone(self) -> bool:
        return self.ghost >= GHOST_PRONE_AT

    @property
    def ordinary(self) -> bool:
        return self.kind is not WHITEWASHER and self.kind is not TWIN


@dataclass
class Account:
    """One registered creator account and what a world has observed about it."""

    aid: int
    person: Person
    joined: int
    active: bool = True
    evidence: Evidence = field(default_factory=Evidence)
    completed: int = 0
    brands: set[int] = field(default_factory=set)
    ghosted_at: list[datetime] = field(default_factory=list)
    review_cleared_at: datetime | None = None
    banned: bool = False
    stars: list[int] = field(default_factory=list)
    open_unposted: int = 0
    first_deal: int | None = None
    deals: int = 0
    # Every account of the person at the same delivery address, this one included (the product links them).
    same_address: list[Account] = field(default_factory=list)
    verified_audience: bool = False

    def record(self) -> TrackRecord:
        linked = tuple(t for other in self.same_address if other is not self for t in other.ghosted_at)
        return TrackRecord(
            self.evidence, self.completed, len(self.brands), tuple(self.ghosted_at), self.review_cleared_at, linked
        )


@dataclass
class Pending:
    """Something about a deal that becomes observable at a later round."""

    round: int
    account: Account
    kind: EventKind | None  # the scored outcome; None when this step scores nothing
    weight: float
    brand: int
    value_minor: int
    tier: Tier | None
    frees_slot: bool  # the creator no longer holds an unposted product (posted, ghosted, cancelled, not shipped)
    stars: int | None = None


@dataclass
class WorldResult:
    """Counts from one world (one strategy, one replicate)."""

    gigs: int = 0
    filled: int = 0
    resolved: int = 0
    ghosted: int = 0
    resolved_2nd_half: int = 0
    ghosted_2nd_half: int = 0
    value_total: int = 0
    value_ghosted: int = 0
    flagging: bool = False
    flag_tp: int = 0
    flag_fp: int = 0
    flag_fn: int = 0
    newcomers: int = 0
    newcomers_placed: int = 0
    ww_ghostings: int = 0
    ww_value: int = 0
    ww_largest_deal: int = 0
    twin_ghostings: int = 0
    ww_gaps: list[int] = field(default_factory=list)
    tier_deals: dict[Tier, list[int]] = field(default_factory=dict)  # tier at signing -> [deals, ghosted]
    tier_accounts: dict[Tier, list[int]] = field(default_factory=dict)  # final tier -> [accounts, ghost-prone]
    reviews: dict[tuple[bool, bool], int] = field(default_factory=dict)  # (ghost-prone, cleared) -> count


def _rng(*parts: object) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`, so streams are stable across runs and processes.
    return random.Random(":".join(str(p) for p in parts))


def _individual(rng: random.Random, mean: float, concentration: float = 20.0) -> float:
    return rng.betavariate(mean * concentration, (1 - mean) * concentration) if mean > 0 else 0.0


def _new_person(rng: random.Random, pid: int, kind: CreatorType) -> Person:
    # Micro-influencers: median ~20k followers, drawn independently of behaviour (no known correlation).
    followers = int(min(max(rng.lognormvariate(math.log(20_000), 0.8), 2_000), 150_000))
    return Person(
        pid=pid,
        kind=kind,
        ghost=_individual(rng, kind.ghost),
        late=_individual(rng, kind.late),
        removed=_individual(rng, kind.removed),
        cancel=_individual(rng, kind.cancel),
        followers=followers,
        capacity=rng.choice((1, 2, 2, 3)),
    )


def _pick_type(rng: random.Random) -> CreatorType:
    u = rng.random()
    for kind in CREATOR_TYPES:
        u -= kind.share
        if u < 0:
            return kind
    return CREATOR_TYPES[0]


def _at(round_no: int) -> datetime:
    return START + round_no * WEEK


class World:
    """One simulated marketplace in which every brand picks creators by one strategy."""

    def __init__(self, config: Config, replicate: int, strategy: str) -> None:
        self.config = config
        self.strategy = strategy
        self.seed = (config.seed, replicate)
        self.result = WorldResult(flagging=strategy != FOLLOWERS)
        self.accounts: list[Account] = []
        self.pending: list[Pending] = []
        self.brand_ratings: dict[int, tuple[int, int]] = {}  # brand -> (extreme ratings given, ratings given)
        self.star_sum = 0
        self.star_count = 0
        self.deal_counter: dict[int, int] = {}
        self.open_by_person: dict[int, int] = {}
        self.last_ww_ghosting: dict[int, int] = {}
        rng = _rng(*self.seed, "population")
        self.people: list[Person] = [_new_person(rng, pid, _pick_type(rng)) for pid in range(config.creators)]
        for _ in range(config.whitewashers):
            ww = _new_person(rng, len(self.people), WHITEWASHER)
            # The twin behaves exactly like the whitewasher but keeps one account: the counterfactual.
            twin = Person(ww.pid + 1, TWIN, ww.ghost, ww.late, ww.removed, ww.cancel, ww.followers, ww.capacity)
            self.people += [ww, twin]
        self.brand_inflated = [rng.random() < config.inflated_raters for _ in range(config.brands)]
        for person in self.people:
            self._register(person, 0)

    def run(self) -> WorldResult:
        for round_no in range(self.config.rounds):
            self._observe(round_no)
            if round_no:
                self._churn(round_no)
            if self.strategy == POSTPACT:
                self._admin_reviews(round_no)
            self._gigs(round_no)
        self._observe(self.config.rounds + 10)  # deals signed in the last weeks resolve, each at its own time
        self._summarise(_at(self.config.rounds))
        return self.result

    # -- population ----------------------------------------------------------------------------------------------

    def _register(self, person: Person, round_no: int, same_address_as: Account | None = None) -> Account:
        first = not any(a.person is person for a in self.accounts)
        verified = first and _rng(*self.seed, "verified", person.pid).random() < self.config.verified_share
        account = Account(aid=len(self.accounts), person=person, joined=round_no, verified_audience=verified)
        if same_address_as is not None:
            account.same_address = same_address_as.same_address or [same_address_as]
            account.same_address.append(account)
            same_address_as.same_address = account.same_address
        self.accounts.append(account)
        return account

    def _churn(self, round_no: int) -> None:
        # Drawn from a stream that ignores world state, so every strategy sees the same arrivals and departures.
        rng = _rng(*self.seed, "churn", round_no)
        for account in [a for a in self.accounts if a.active and a.person.ordinary]:
            if rng.random() < self.config.churn:
                account.active = False
                newcomer = _new_person(rng, len(self.people), _pick_type(rng))
                self.people.append(newcomer)
                self._register(newcomer, round_no)

    def _admin_reviews(self, round_no: int) -> None:
        # The admin sees the account's history: a suspension is lifted when ghostings are at most 1 in 5 closed
        # deals (bad luck for a busy creator), otherwise the account stays closed.
        at = _at(round_no)
        for account in self.accounts:
            if not account.active or account.banned:
                continue
            person = as_person(account.record())  # the admin sees the ghostings at the account's address too
            if len(person.ghosted_at) < 2 or not is_suspended(person, at):
                continue
            ghostings = len(person.ghosted_at)
            cleared = ghostings * 5 <= ghostings + account.completed
            if cleared:
                account.review_cleared_at = at
            else:
                account.banned = True
            key = (account.person.ghost_prone, cleared)
            self.result.reviews[key] = self.result.reviews.get(key, 0) + 1

    # -- observations --------------------------------------------------------------------------------------------

    def _observe(self, round_no: int) -> None:
        due = [p for p in self.pending if p.round <= round_no]
        self.pending = [p for p in self.pending if p.round > round_no]
        for item in due:
            self._record(item, round_no)

    def _record(self, item: Pending, round_no: int) -> None:
        account, at, result = item.account, _at(item.round), self.result
        if item.frees_slot:
            self.open_by_person[account.person.pid] -= 1
            account.open_unposted -= 1
        if item.kind is None:
            return
        ghosted = item.kind is EventKind.CREATOR_GHOSTED
        second_half = item.round >= self.config.rounds // 2
        result.resolved += 1
        result.resolved_2nd_half += second_half
        result.value_total += item.value_minor
        if item.tier is not None:
            bucket = result.tier_deals.setdefault(item.tier, [0, 0])
            bucket[0] += 1
            bucket[1] += ghosted
        if ghosted:
            result.ghosted += 1
            result.ghosted_2nd_half += second_half
            result.value_ghosted += item.value_minor
            account.ghosted_at.append(at)
            self._ghosting_by_whitewasher_or_twin(account, item, round_no)
        elif item.kind in (EventKind.CREATOR_ON_TIME, EventKind.CREATOR_LATE):
            account.completed += 1
            account.brands.add(item.brand)
        account.evidence = apply_outcome(account.evidence, outcome_for(item.kind, at, item.weight))
        if item.stars is not None:
            account.stars.append(item.stars)
            self.star_sum += item.stars
            self.star_count += 1
            extreme, total = self.brand_ratings.get(item.brand, (0, 0))
            extreme, total = extreme + (item.stars in (1, 5)), total + 1
            self.brand_ratings[item.brand] = (extreme, total)
            # Double-blind reveal is immediate here: in the simulation both sides always rate together.
            rating = rating_outcome(item.stars, at, rater_weight_from_counts(extreme, total))
            account.evidence = apply_outcome(account.evidence, rating)

    def _ghosting_by_whitewasher_or_twin(self, account: Account, item: Pending, round_no: int) -> None:
        person, result = account.person, self.result
        if person.kind is TWIN:
            result.twin_ghostings += 1
        if person.kind is not WHITEWASHER:
            return
        result.ww_ghostings += 1
        result.ww_value += item.value_minor
        result.ww_largest_deal = max(result.ww_largest_deal, item.value_minor)
        last = self.last_ww_ghosting.get(person.pid)
        if last is not None:
            result.ww_gaps.append(item.round - last)
        self.last_ww_ghosting[person.pid] = item.round
        # The whitewasher drops the burnt account and signs up again at once (once, if two deals ghost together).
        if account.active:
            account.active = False
            self._register(person, round_no, None if self.config.whitewasher_moves else account)

    # -- deals ---------------------------------------------------------------------------------------------------

    def _gigs(self, round_no: int) -> None:
        at, config = _at(round_no), self.config
        active = [a for a in self.accounts if a.active and a.person.ordinary]
        # Sorted by person, not account: a whitewasher's account ids differ between worlds.
        eager = sorted((a for a in self.accounts if a.active and not a.person.ordinary), key=lambda a: a.person.pid)
        records: dict[int, TrackRecord] = {}
        for gig in range(config.gigs_per_round):
            rng = _rng(*self.seed, "gig", round_no, gig)
            brand = rng.randrange(config.brands)
            # Deal value (product plus fee): median $150, the field's average is $198.
            value_minor = int(min(max(rng.lognormvariate(math.log(15_000), 0.7), 2_000), 300_000))
            self.result.gigs += 1
            candidates = rng.sample(active, min(len(active), 4 * config.applicants))
            # Ghosters chasing free products apply more than most; a draw is made for each of them whatever the
            # world, so the random stream stays aligned across strategies.
            keen = [a for a, u in zip(eager, [rng.random() for _ in eager], strict=True) if u < config.eagerness]
            applicants: list[Account] = []
            for account in candidates:
                if len(applicants) == config.applicants:
                    break
                if self._may_apply(account, at, value_minor, records):
                    applicants.append(account)
            applicants += [a for a in keen if self._may_apply(a, at, value_minor, records)]
            if not applicants:
                continue
            best = max(applicants, key=lambda a: (*self._score(a, at), a.person.followers, -a.person.pid))
            tier = (
                tier_for(best.record(), at, rules=config.tier_rules) if self.strategy in (POSTPACT, RANK_ONLY) else None
            )
            self._sign(best, brand, value_minor, round_no, tier)

    def _may_apply(self, account: Account, at: datetime, value_minor: int, records: dict[int, TrackRecord]) -> bool:
        # Capacity belongs to the person: a whitewasher's new account does not let them take on more.
        if self.open_by_person.get(account.person.pid, 0) >= account.person.capacity:
            return False
        if self.strategy != POSTPACT:
            return True
        if account.banned:
            return False
        record = records.get(account.aid)
        if record is None:
            record = records[account.aid] = account.record()  # evidence only changes between rounds
        rules = self.config.tier_rules
        return eligibility(record, at, GigRequirements(), value_minor, account.open_unposted, rules=rules).allowed

    def _score(self, account: Account, at: datetime) -> tuple[float, ...]:
        if self.strategy == FOLLOWERS:
            return (float(account.person.followers),)
        if self.strategy == STARS:
            if account.stars:
                return (sum(account.stars) / len(account.stars),)
            # Unrated creators show "no rating yet"; brands read that as an average creator.
            return (self.star_sum / self.star_count if self.star_count else 4.5,)
        linked = sum(len(other.ghosted_at) for other in account.same_address if other is not account)
        return ranking_key(ranking_evidence(account.evidence, verified_audience=account.verified_audience,
                                            linked_ghostings=linked), at)

    def _sign(self, account: Account, brand: int, value_minor: int, round_no: int, tier: Tier | None) -> None:
        person = account.person
        index = self.deal_counter.get(person.pid, 0)
        self.deal_counter[person.pid] = index + 1
        # A person's k-th deal goes the same way in every world: a paired comparison between strategies.
        rng = _rng(*self.seed, "deal", person.pid, index)
        weight = value_weight(value_minor, USD_EXPONENT)
        due = round_no + 2  # shipping plus a week to post
        self.open_by_person[person.pid] = self.open_by_person.get(person.pid, 0) + 1
        account.open_unposted += 1
        account.deals += 1
        if account.first_deal is None:
            account.first_deal = round_no
        self.result.filled += 1

        def step(at_round: int, kind: EventKind | None, frees_slot: bool = True) -> Pending:
            stars = self._stars_for(rng, brand, kind)
            return Pending(at_round, account, kind, weight, brand, value_minor, tier, frees_slot, stars)

        if rng.random() < 0.03:  # the brand never ships: nothing counts against the creator
            self.pending.append(step(due, None))
        elif rng.random() < person.cancel:
            self.pending.append(step(round_no + 1, EventKind.CREATOR_CANCELLED_AFTER_SIGNING))
        elif rng.random() < person.ghost:
            self.pending.append(step(due + 1, EventKind.CREATOR_GHOSTED))  # observed after the 7-day grace
        else:
            posted = due + (1 if rng.random() < person.late else 0)
            self.pending.append(step(posted, None))  # posting frees the slot; scoring waits for the keep-live
            if rng.random() < person.removed:
                self.pending.append(step(posted + 1, EventKind.CREATOR_POST_REMOVED, frees_slot=False))
            else:
                kind = EventKind.CREATOR_LATE if posted > due else EventKind.CREATOR_ON_TIME
                self.pending.append(step(posted + 2, kind, frees_slot=False))

    def _stars_for(self, rng: random.Random, brand: int, kind: EventKind | None) -> int | None:
        # Inflated raters give 5s to nearly everything delivered; the rest use the scale. Not every deal is rated.
        inflated = self.brand_inflated[brand]
        if kind in (EventKind.CREATOR_ON_TIME, EventKind.CREATOR_POST_REMOVED):
            if rng.random() > 0.75:
                return None
            return 5 if inflated or rng.random() < 0.5 else rng.choice((3, 4, 4))
        if kind is EventKind.CREATOR_LATE:
            if rng.random() > 0.7:
                return None
            return rng.choice((4, 5, 5, 5)) if inflated else rng.choice((2, 3, 3, 4))
        if kind is EventKind.CREATOR_GHOSTED:
            # Most platforms allow no review without a delivery; a minority of brands leave one anyway.
            return rng.choice((1, 1, 2)) if rng.random() < 0.3 else None
        return None

    # -- results -------------------------------------------------------------------------------------------------

    def _summarise(self, at: datetime) -> None:
        result, last_join = self.result, self.config.rounds - PLACEMENT_WEEKS
        for account in self.accounts:
            person = account.person
            if account.deals and result.flagging:
                flagged, truth = self._flagged(account, at), person.ghost_prone
                result.flag_tp += flagged and truth
                result.flag_fp += flagged and not truth
                result.flag_fn += truth and not flagged
            if person.ordinary and not person.ghost_prone and 0 < account.joined <= last_join:
                result.newcomers += 1
                placed = account.first_deal is not None and account.first_deal - account.joined < PLACEMENT_WEEKS
                result.newcomers_placed += placed
            if self.strategy in (POSTPACT, RANK_ONLY) and account.active and account.deals:
                final_tier = tier_for(account.record(), at, rules=self.config.tier_rules)
                bucket = result.tier_accounts.setdefault(final_tier, [0, 0])
                bucket[0] += 1
                bucket[1] += person.ghost_prone

    def _flagged(self, account: Account, at: datetime) -> bool:
        if self.strategy == STARS:
            return bool(account.stars) and sum(account.stars) / len(account.stars) < 4.0
        # PostPact flags more bad than good evidence, or an account an admin kept suspended.
        return account.banned or expected_reliability(decay(account.evidence, at)) < 0.5


def simulate(config: Config) -> dict[str, list[WorldResult]]:
    """Run every strategy on the same replicated worlds; returns each strategy's per-replicate results, and (c)'s
    once more with whitewashers who move to a new delivery address for every account (``MOVING``)."""
    outcome = {s: [World(config, rep, s).run() for rep in range(config.replicates)] for s in STRATEGIES}
    moving = replace(config, whitewasher_moves=True)
    outcome[MOVING] = [World(moving, rep, POSTPACT).run() for rep in range(config.replicates)]
    return outcome


# -- figures -----------------------------------------------------------------------------------------------------


def _rate(num: float, den: float) -> float:
    return num / den if den else 0.0


def ghost_rate(results: Sequence[WorldResult]) -> float:
    """Share of resolved deals (product shipped) that the creator ghosted, pooled over replicates."""
    return _rate(sum(r.ghosted for r in results), sum(r.resolved for r in results))


def ghostings_per_year(results: Sequence[WorldResult], config: Config, twin: bool = False) -> float:
    """Ghostings per whitewasher (or per persistent twin) per 52 weeks."""
    total = sum(r.twin_ghostings if twin else r.ww_ghostings for r in results)
    return _rate(total * 52, config.whitewashers * config.rounds * len(results))


def margins(outcome: dict[str, list[WorldResult]], baseline: str) -> tuple[float, list[float]]:
    """Ghost-rate points by which PostPact (c) beats `baseline`: pooled, and per replicate."""
    ours, theirs = outcome[POSTPACT], outcome[baseline]
    per_replicate = [ghost_rate([b]) - ghost_rate([o]) for o, b in zip(ours, theirs, strict=True)]
    return ghost_rate(theirs) - ghost_rate(ours), per_replicate


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)])


def _usd(minor: float) -> str:
    return f"${minor / 100:,.0f}"


def _sum(results: Sequence[WorldResult], name: str) -> int:
    return sum(getattr(r, name) for r in results)


def report(config: Config, outcome: dict[str, list[WorldResult]]) -> str:
    """The printed tables: outcomes per strategy, margins, whitewasher containment and tier calibration."""
    mix = ", ".join(f"{t.share:.0%} {t.name}" for t in CREATOR_TYPES)
    out = [
        f"PostPact reputation simulation - seed {config.seed}, {config.replicates} worlds x {config.rounds} weeks",
        f"{config.creators} creators ({mix}) + {config.whitewashers} whitewashers and their twins, "
        f"{config.brands} brands, {config.gigs_per_round} gigs/week, {config.applicants} applicants/gig; "
        f"{config.verified_share:.0%} of creators have a connected account with real history (verified audience)",
        "",
    ]
    rows = []
    for s in STRATEGIES:
        res = outcome[s]
        tp, fp, fn = (_sum(res, k) for k in ("flag_tp", "flag_fp", "flag_fn"))
        rows.append(
            [
                LABELS[s],
                f"{_sum(res, 'resolved'):,}",
                f"{_rate(_sum(res, 'filled'), _sum(res, 'gigs')):.1%}",
                f"{ghost_rate(res):.1%}",
                f"{_rate(_sum(res, 'ghosted_2nd_half'), _sum(res, 'resolved_2nd_half')):.1%}",
                _usd(_sum(res, "value_ghosted") / len(res)),
                f"{_rate(_sum(res, 'value_ghosted'), _sum(res, 'value_total')):.1%}",
                f"{_rate(tp, tp + fp):.2f}" if res[0].flagging else "-",
                f"{_rate(tp, tp + fn):.2f}" if res[0].flagging else "-",
                f"{_rate(_sum(res, 'newcomers_placed'), _sum(res, 'newcomers')):.0%}",
            ]
        )
    headers = ["strategy", "deals", "gigs filled", "ghost rate", "2nd half", "$ ghosted/world", "of value"]
    headers += ["flag precision", "flag recall", f"newcomers placed <{PLACEMENT_WEEKS} wk"]
    out += [
        _table(headers, rows),
        "ghost rate: ghosted / deals whose product shipped; $ ghosted: value of deals whose creator ghosted (at risk).",
        f"flags: ghost-prone = ghosts >= {GHOST_PRONE_AT:.0%} of deals; (b) flags mean stars < 4, (c) E < 0.5 or kept"
        " suspended.",
        f"newcomers placed: honest creators joining after launch who got a first deal within {PLACEMENT_WEEKS} weeks.",
        "",
    ]
    for s in (FOLLOWERS, STARS):
        pooled, per_rep = margins(outcome, s)
        base = ghost_rate(outcome[s])
        out.append(
            f"margin of (c) over {LABELS[s]}: {pooled * 100:.1f} points lower ghost rate "
            f"({_rate(pooled, base):.0%} fewer ghostings per deal); per world {min(per_rep) * 100:.1f} to "
            f"{max(per_rep) * 100:.1f} points"
        )
    out += ["", "Whitewasher: ghosts 90% of deals and opens a new account after each ghosting; its twin keeps one."]
    rows = []
    for s in (*STRATEGIES, MOVING):
        res = outcome[s]
        ww, twin = ghostings_per_year(res, config), ghostings_per_year(res, config, twin=True)
        gaps = sorted(g for r in res for g in r.ww_gaps)
        rows.append(
            [
                LABELS[s],
                f"{ww:.1f}",
                _usd(_sum(res, "ww_value") / len(res) / config.whitewashers / config.rounds * 52),
                f"{gaps[len(gaps) // 2]} wk" if gaps else "-",
                f"{twin:.1f}",
                f"{ww - twin:+.1f}",
            ]
        )
    headers = ["strategy", "ghostings/yr", "$ taken/yr", "median gap", "twin's ghostings/yr", "gain from new accounts"]
    out += [
        _table(headers, rows),
        "gain = whitewasher's minus twin's ghostings. Under (c) a new account starts at the floor (score 0, New caps)",
        "and, at the same delivery address, inherits the probation and suspension the old one earned; what is left is",
        "ranking beside newcomers rather than under them during the probation. A whitewasher who moves to a new",
        "address (and needs a new audience: a handle stays with its account) for every account escapes the link,",
        "but its new, empty audience is no verified one: newcomers with a verified audience rank above it.",
        "",
    ]
    ours = outcome[POSTPACT]
    rows = []
    for tier in Tier:
        deals = [sum(r.tier_deals.get(tier, [0, 0])[i] for r in ours) for i in (0, 1)]
        accounts = [sum(r.tier_accounts.get(tier, [0, 0])[i] for r in ours) for i in (0, 1)]
        rows.append(
            [
                tier.label,
                f"{deals[0]:,}",
                f"{_rate(deals[1], deals[0]):.1%}",
                f"{accounts[0]:,}",
                f"{_rate(accounts[1], accounts[0]):.0%}",
            ]
        )
    out.append("Tiers under (c): ghost rate of deals by the creator's tier at signing; tier of active accounts at end.")
    out.append(_table(["tier", "deals signed", "ghost rate", "accounts at end", "of them ghost-prone"], rows))
    keys = [(prone, cleared) for prone in (True, False) for cleared in (True, False)]
    reviews = {key: sum(r.reviews.get(key, 0) for r in ours) for key in keys}
    out.append(
        f"suspensions reviewed: ghost-prone {reviews[True, False]} kept / {reviews[True, True]} cleared; "
        f"others {reviews[False, False]} kept / {reviews[False, True]} cleared "
        f"(admin clears when ghostings are at most 1 in 5 closed deals)"
    )
    return "\n".join(out)


def _variant(tier: Tier, **changes: float) -> tuple[TierRule, ...]:
    return tuple(replace(rule, **changes) if rule.tier is tier else rule for rule in TIER_RULES)


SWEEP: tuple[tuple[str, tuple[TierRule, ...]], ...] = (
    ("chosen (reputation.tiers)", TIER_RULES),
    ("Bronze at 0.40", _variant(Tier.BRONZE, min_score=0.40)),
    ("Bronze at 0.60", _variant(Tier.BRONZE, min_score=0.60)),
    ("Silver at 0.60", _variant(Tier.SILVER, min_score=0.60)),
    ("Silver at 0.80", _variant(Tier.SILVER, min_score=0.80)),
    ("Gold at 0.90", _variant(Tier.GOLD, min_score=0.90)),
    ("New: 2 unposted deals", _variant(Tier.NEW, max_open_unposted=2)),
    ("New: deals up to $100", _variant(Tier.NEW, max_deal_value_minor=10_000)),
    ("New: deals up to $500", _variant(Tier.NEW, max_deal_value_minor=50_000)),
    (
        "no thresholds, only probation",
        tuple(replace(rule, min_score=0.0, min_completed_deals=0, min_counterparties=0) for rule in TIER_RULES),
    ),
)


def sweep(config: Config) -> str:
    """Strategy (c) under alternative tier rules: the evidence behind the thresholds in `reputation.tiers`."""
    rows = []
    for label, rules in SWEEP:
        variant = replace(config, tier_rules=rules)
        res = [World(variant, rep, POSTPACT).run() for rep in range(config.replicates)]
        rows.append(
            [
                label,
                f"{ghost_rate(res):.2%}",
                f"{_rate(_sum(res, 'filled'), _sum(res, 'gigs')):.1%}",
                f"{_rate(_sum(res, 'newcomers_placed'), _sum(res, 'newcomers')):.0%}",
                f"{ghostings_per_year(res, config):.1f}",
                _usd(_sum(res, "value_ghosted") / len(res)),
            ]
        )
    headers = ["tier rules", "ghost rate", "gigs filled", f"newcomers placed <{PLACEMENT_WEEKS} wk"]
    headers += ["whitewasher ghostings/yr", "$ ghosted/world"]
    return f"Tier rule sweep under (c), seed {config.seed}, {config.replicates} worlds x {config.rounds} weeks\n" + (
        _table(headers, rows)
    )


def main(argv: Sequence[str] | None = None) -> int:
    defaults = Config()
    parser = argparse.ArgumentParser(prog="python -m reputation.simulate", description=__doc__)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--rounds", type=int, default=defaults.rounds, help="weeks to simulate")
    parser.add_argument("--creators", type=int, default=defaults.creators)
    parser.add_argument("--brands", type=int, default=defaults.brands)
    parser.add_argument("--gigs", type=int, default=defaults.gigs_per_round, help="gigs posted per week")
    parser.add_argument("--applicants", type=int, default=defaults.applicants, help="applicants per gig")
    parser.add_argument("--whitewashers", type=int, default=defaults.whitewashers)
    parser.add_argument("--replicates", type=int, default=defaults.replicates, help="independent worlds")
    parser.add_argument("--sweep", action="store_true", help="compare alternative tier thresholds instead")
    parser.add_argument("--verified-share", type=float, default=defaults.verified_share,
                        help="share of creators with a connected account that has real history")
    args = parser.parse_args(argv)
    config = Config(
        seed=args.seed,
        rounds=args.rounds,
        creators=args.creators,
        brands=args.brands,
        gigs_per_round=args.gigs,
        applicants=args.applicants,
        whitewashers=args.whitewashers,
        replicates=args.replicates,
        verified_share=args.verified_share,
    )
    print(sweep(config) if args.sweep else report(config, simulate(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
