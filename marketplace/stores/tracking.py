"""Carrier tracking links, for stores that report a carrier and number but no link."""

from __future__ import annotations

from urllib.parse import quote

_CARRIERS: dict[str, str] = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    "dhl express": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    "royal mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "canada post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
    "australia post": "https://auspost.com.au/mypost/track/details/{}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{}",
}


def tracking_link(carrier: str, tracking_number: str, given: str | None = None) -> str | None:
    """The store's own link when it has one, else the carrier's public tracking page, else None."""
    if given and given.startswith("https://"):
        return given[:2000]
    template = _CARRIERS.get(carrier.strip().lower())
    return template.format(quote(tracking_number.strip(), safe="")) if template and tracking_number else None
