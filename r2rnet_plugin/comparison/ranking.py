"""The summary over datasets: each method's mean rank over every (dataset, measure) ranked.

Ranked measures: PSNR and SSIM (higher is better) where a dataset has ground truth, NIQE and
LOE (lower is better) on every dataset. Rank 1 is the best; tied methods share the mean of
their ranks. A method without a value for a measure (failed, or n/a) gets no rank for it and
the others are ranked without it; its mean rank is over the ranks it has (the count is shown).
"""
import math
from collections import OrderedDict
from dataclasses import dataclass, field

RANKED = OrderedDict([('psnr', True), ('ssim', True), ('niqe', False), ('loe', False)])  # higher is better?


@dataclass
class MethodRank:
    """A method's ranks (``'dataset/measure' -> rank``) and their mean (NaN without any)."""
    name: str
    ranks: OrderedDict = field(default_factory=OrderedDict)

    @property
    def mean_rank(self):
        return sum(self.ranks.values()) / len(self.ranks) if self.ranks else math.nan


def rank_values(values, higher_is_better):
    """Ranks (1 = best, ties share their mean rank) of the finite ``values``; None for the others."""
    finite = sorted((v for v in values if v is not None and math.isfinite(v)), reverse=higher_is_better)
    first = {}
    for position, value in enumerate(finite, 1):
        first.setdefault(value, []).append(position)
    return [sum(first[v]) / len(first[v]) if v is not None and math.isfinite(v) else None for v in values]


def ranked_columns(result):
    """``[(dataset, measure, higher_is_better)]`` ranked in ``result``: measures some method has a value for."""
    columns = []
    for dataset in result.datasets:
        for measure, higher in RANKED.items():
            if measure in dataset.measures and any(
                    _value(m, dataset.name, measure) is not None for m in result.methods):
                columns.append((dataset.name, measure, higher))
    return columns


def _value(method, dataset, measure):
    scores = method.scores.get(dataset)
    value = scores.quality.get(measure) if scores is not None else None
    return value if value is not None and math.isfinite(value) else None


def mean_ranks(result):
    """Every method's :class:`MethodRank`, best mean rank first (methods without ranks last)."""
    ranks = [MethodRank(method.name) for method in result.methods]
    for dataset, measure, higher in ranked_columns(result):
        values = [_value(method, dataset, measure) for method in result.methods]
        for entry, rank in zip(ranks, rank_values(values, higher)):
            if rank is not None:
                entry.ranks[f'{dataset}/{measure}'] = rank
    return sorted(ranks, key=lambda r: (math.isnan(r.mean_rank), r.mean_rank if r.ranks else 0))
