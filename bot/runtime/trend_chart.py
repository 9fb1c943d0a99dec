"""The digest's trend chart: seats vs users per product over the last 30 days, as a PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, so no global figure state and
safe in a worker thread); matplotlib is imported when a chart is drawn, not when Seatbot starts.
A day whose users could not be read has no user point (a gap in the line): unknown, never zero.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence

from billing.formatting import format_day
from billing.products import Product
from billing.reports import TrendPoint

#: One colour per product (colour-blind safe pairs: seats dashed, users solid).
PRODUCT_COLOURS = {
    Product.CONTACT_CENTER: "#0072B2",
    Product.AXIOM: "#D55E00",
    Product.MATRIX: "#009E73",
}


def render_trend_png(points: Sequence[TrendPoint], title: str) -> bytes:
    """The chart of ``points`` (one per product and day) as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, date2num, num2date
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    by_product: dict[Product, list[TrendPoint]] = defaultdict(list)
    for point in sorted(points, key=lambda p: (p.product.value, p.day)):
        by_product[point.product].append(point)
    figure = Figure(figsize=(8, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for product, series in by_product.items():
        colour = PRODUCT_COLOURS.get(product, "#555555")
        days = date2num([p.day for p in series])  # type: ignore[no-untyped-call]
        axes.step(
            days,
            [p.seats for p in series],
            where="post",
            linestyle="--",
            color=colour,
            label=f"{product.label} seats",
        )
        # None (unknown) becomes a gap in the line, never a zero.
        users = [float("nan") if p.users is None else p.users for p in series]
        axes.plot(
            days, users, marker="o", markersize=3, color=colour, label=f"{product.label} users"
        )
    axes.set_title(title)
    axes.set_ylabel("seats / users")
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.xaxis.set_major_locator(AutoDateLocator(maxticks=8))  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _: format_day(num2date(value).date()))  # type: ignore[no-untyped-call]
    )
    axes.grid(True, alpha=0.3)
    # Below the plot, so it never hides a line.
    axes.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize="small", ncols=3, frameon=False
    )
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
