"""Money as integer minor units plus an ISO 4217 currency; never floats."""

from __future__ import annotations

from dataclasses import dataclass

#: ISO 4217 minor-unit exponents for the currencies PostPact accepts (Stripe's settlement currencies we serve).
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "SGD": 2,
    "HKD": 2,
    "MXN": 2,
    "BRL": 2,
    "INR": 2,
    "ZAR": 2,
    "JPY": 0,
    "KRW": 0,
}

#: Largest amount we accept in one money field (Stripe's limit is 99,999,999 minor units for most currencies).
MAX_AMOUNT = 99_999_999


class CurrencyError(ValueError):
    pass


def normalise_currency(code: str) -> str:
    value = (code or "").strip().upper()
    if value not in CURRENCY_EXPONENTS:
        raise CurrencyError(
            f"Unknown or unsupported currency {code!r}; use one of {', '.join(sorted(CURRENCY_EXPONENTS))}."
        )
    return value


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[normalise_currency(currency)]


@dataclass(frozen=True, order=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        object.__setattr__(self, "currency", normalise_currency(self.currency))

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyError(f"can't combine {self.currency} and {other.currency}")

    def as_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}

    def format(self) -> str:
        return format_money(self.amount, self.currency)


def basis_points(amount: int, bps: int) -> int:
    """A share of an amount, rounded half up in minor units (integer arithmetic only)."""
    return (amount * bps + 5_000) // 10_000


def format_money(amount: int, currency: str) -> str:
    exp = CURRENCY_EXPONENTS.get(currency.upper(), 2)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    symbol = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}.get(currency.upper())
    number = f"{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency.upper()}"


def major_units(amount: int, currency: str) -> str:
    """The amount as a plain decimal string for form fields ("12.50"), exact."""
    exp = CURRENCY_EXPONENTS.get(currency.upper(), 2)
    if not exp:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"
