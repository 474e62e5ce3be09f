"""Which days the archive holds posts for, so that a chart can tell a hole in the data from a
quiet period.

A day with no post at all in the index is a day the archive lacks (the wire publishes every day,
weekends included): a period made only of such days is drawn as no data, not as zero news, and a
period some of whose days are missing is drawn as partly covered.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from finsearch.search.docsets import sorted_distinct

_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, eq=False)
class Coverage:
    days: np.ndarray  # int64 day numbers (days since 1970-01-01, site time) with a post, ascending, distinct

    def __eq__(self, other: object) -> bool:  # by the days, not by the array's identity
        return isinstance(other, Coverage) and np.array_equal(self.days, other.days)

    def __hash__(self) -> int:
        return hash(self.days.tobytes())

    @classmethod
    def of_days(cls, days: Iterable[dt.date]) -> Coverage:
        return cls(sorted_distinct(np.array([(day - _EPOCH).days for day in days], dtype=np.int64)))

    @property
    def first(self) -> int | None:
        return int(self.days[0]) if self.days.size else None

    @property
    def last(self) -> int | None:
        return int(self.days[-1]) if self.days.size else None

    def covered(self, first: dt.date, last: dt.date) -> int:
        """How many days of [first, last] the archive has posts for."""
        low, high = (first - _EPOCH).days, (last - _EPOCH).days
        return int(np.searchsorted(self.days, high, side="right") - np.searchsorted(self.days, low))


class Gap(str, Enum):
    """What the archive lacks of a period: said to people in finsearch.messages' words."""

    NO_DATA = "no_data"  # every day: the period's figure is no data, not zero
    PARTIAL = "partial"  # some of its days


@dataclass(frozen=True)
class Span:
    """How much of a chart's period the archive covers."""

    days: int  # days in the period
    covered: int  # of them, days with posts in the archive

    @property
    def no_data(self) -> bool:
        return self.covered == 0

    @property
    def partial(self) -> bool:
        return 0 < self.covered < self.days

    @property
    def gap(self) -> Gap | None:
        """What the archive lacks of the period (None: nothing): what its figure can be trusted for."""
        return Gap.NO_DATA if self.no_data else Gap.PARTIAL if self.partial else None


def span(coverage: Coverage | None, first: dt.date, last: dt.date) -> Span:
    """The coverage of [first, last] (all of it when the coverage is not known)."""
    days = (last - first).days + 1
    return Span(days, days if coverage is None else coverage.covered(first, last))
