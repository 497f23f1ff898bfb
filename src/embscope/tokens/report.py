"""The result of a token scan: a table with one row per token, the candidates, a summary, a
figure, and files to keep."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import positive_int
from .._io.atomic import atomic_path
from .._io.progress import Progress
from ..errors import InvalidParameterError
from .audit import CATEGORIES
from .indicators import DESCRIPTIONS

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from .verify import CausalLM

REPORT_SUFFIXES = (".parquet", ".csv", ".html")
#: what a report without reference tokens says about its candidates (``TokenReport.caution``)
NO_REFERENCES = (
    "no reference tokens, so this ranking is not evidence of under-training: the candidates "
    "are only the rows whose {indicator} is lowest, and common words and names can rank high; "
    "test them by prompting the model (TokenReport.verify(), embscope tokens --verify N) or "
    "pass references=[...] (ids or token strings known never to be trained)"
)


@dataclass
class TokenReport:
    """What ``embscope.tokens.scan`` found.

    ``table``: one row per token: ``token_id``, ``key``, ``label``, ``category`` (the tokenizer
    audit), ``reference`` (a never-trained reference token), each indicator's value and its
    ``rank_<indicator>`` (1 = most suspicious), ``rank`` and ``percentile`` on the main
    indicator among the tokens that can be candidates, and ``candidate``. Without reference
    tokens the candidates are not evidence (``caution``); ``verify()`` tests them.
    """

    name: str
    table: pd.DataFrame = field(repr=False)
    indicator: str | None
    threshold: float
    threshold_value: float | None
    details: dict[str, Any] = field(repr=False)
    # the checkpoint and its config.json, for verification by prompting (None otherwise)
    checkpoint: Path | None = field(default=None, repr=False)
    model_config: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def caution(self) -> str | None:
        """Why the candidates are not evidence of under-training, or None: a ranking with no
        reference (never-trained) tokens to measure against names the rows whose indicator
        happens to be lowest, which in a trained model are often common words."""
        if self.indicator is None or self.table["reference"].any():
            return None
        return NO_REFERENCES.format(indicator=self.indicator)

    @property
    def candidates(self) -> pd.DataFrame:
        """The likely under-trained tokens, most likely first."""
        chosen = self.table[self.table["candidate"]]
        return chosen.sort_values("rank").reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """Counts per category, the indicators computed (and why others were not), the main
        indicator and its threshold, the reference tokens, the matrices that were read, the
        ``caution`` (None, or why the candidates are not evidence), and the tokens at both ends
        of the centroid distance."""
        table = self.table
        counts = table["category"].value_counts()
        summary: dict[str, Any] = {
            "source": self.name,
            "tokens": len(table),
            "categories": {c: int(counts[c]) for c in CATEGORIES if c in counts},
            **self.details,
            "main_indicator": self.indicator,
            "threshold_percentile": self.threshold * 100,
            "threshold_value": self.threshold_value,
            "candidates": int(table["candidate"].sum()),
            "caution": self.caution,
        }
        if "centroid_distance" in table:
            order = table["centroid_distance"].sort_values(kind="stable")
            summary["nearest_centroid"] = table.loc[order.index[:10], "label"].tolist()
            summary["farthest_from_centroid"] = table.loc[order.index[::-1][:10], "label"].tolist()
        return summary

    def __str__(self) -> str:
        summary = self.summary()
        lines = [f"token scan of {self.name}: {summary['tokens']:,} tokens"]
        lines.append(
            "categories: " + ", ".join(f"{k} {v:,}" for k, v in summary["categories"].items())
        )
        lines.append(f"matrices: {summary.get('matrices', 'none (tokenizer only)')}")
        lines.append(f"references: {summary.get('references') or 'none'}")
        for name, why in summary.get("not_computed", {}).items():
            lines.append(f"not computed: {name}: {why}")
        for name, note in summary.get("notes", {}).items():
            lines.append(f"{name}: {note}")
        if self.indicator is not None:
            lines.append(
                f"candidates: {summary['candidates']:,} tokens in the lowest "
                f"{summary['threshold_percentile']:g}% of {self.indicator} "
                f"(at most {self.threshold_value:.4g}) among reachable, decodable tokens"
            )
        if self.caution is not None:
            lines.append(f"caution: {self.caution}")
        if "nearest_centroid" in summary:
            lines.append("nearest the centroid: " + ", ".join(summary["nearest_centroid"]))
            lines.append("farthest from it: " + ", ".join(summary["farthest_from_centroid"]))
        lines.append(f"verification: {summary.get('verification', 'not run')}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The summary, the main indicator's histogram with its threshold, and the first
        candidates (``candidates`` has them all)."""
        from ..notebook_html import card, caution, histogram, table

        summary = self.summary()
        rows = [
            ("tokens", f"{summary['tokens']:,}"),
            ("categories", ", ".join(f"{k} {v:,}" for k, v in summary["categories"].items())),
            ("matrices", str(summary.get("matrices", "none (tokenizer only)"))),
            ("references", str(summary.get("references") or "none")),
        ]
        rows.extend(
            (f"not computed: {name}", str(why))
            for name, why in summary.get("not_computed", {}).items()
        )
        body = caution(f"caution: {self.caution}") if self.caution is not None else ""
        if self.indicator is not None:
            rows.append(
                (
                    "candidates",
                    f"{summary['candidates']:,} tokens in the lowest "
                    f"{summary['threshold_percentile']:g}% of {self.indicator} (at most "
                    f"{self.threshold_value:.4g}) among reachable, decodable tokens",
                )
            )
            eligible = self.table.loc[self.table["rank"].notna(), self.indicator]
            body += histogram(
                eligible.to_numpy(),
                title=f"{self.indicator} of the tokens that can be candidates",
                threshold=self.threshold_value,
                width=420,
            )
            shown = [
                column
                for column in ("token_id", "label", "category", "rank", *DESCRIPTIONS)
                if column in self.table
            ]
            shown += [c for c in ("max_probability", "verified") if c in self.table]
            body += table(
                self.candidates[shown],
                rows=15,
                caption=f"Candidates, most likely first ({len(self.candidates):,})",
            )
        rows.append(("verification", str(summary.get("verification", "not run"))))
        return card(f"Token scan of {self.name}", rows, body=body)

    def verify(
        self,
        *,
        top: int = 50,
        device: str = "cpu",
        batch_size: int | None = None,
        model: CausalLM | None = None,
        progress: Progress = True,
    ) -> TokenReport:
        """Prompt the model to repeat each of the ``top`` candidates (``embscope.tokens.verify``)
        and record, per token, ``max_probability`` and ``verified`` (below 1%: the model cannot
        repeat it, so it is under-trained). The candidates go through the model in batches
        (``batch_size`` prompts per generation; default: by prompt length). Needs a causal LM
        (a checkpoint directory or a GGUF file), torch and transformers; otherwise the summary
        says why nothing was verified. ``model``: the same model already loaded by
        ``embscope.tokens.verify.load_causal_lm``, to verify again without loading it again."""
        from .verify import VERIFIED_BELOW, causal_lm_problem, max_probabilities

        problem = causal_lm_problem(self.checkpoint, self.model_config)
        if problem is not None:
            self.details["verification"] = f"not verified: {problem}"
            return self
        top = positive_int(top, "top")
        chosen = self.candidates.head(top)["token_id"].tolist()
        probabilities = max_probabilities(
            model if model is not None else self.checkpoint,
            chosen,
            device=device,
            batch_size=batch_size,
            progress=progress,
        )
        self.table["max_probability"] = np.nan
        self.table.loc[chosen, "max_probability"] = probabilities
        self.table["verified"] = pd_na_booleans(self.table["max_probability"], VERIFIED_BELOW)
        verified = int((probabilities < VERIFIED_BELOW).sum())
        self.details["verification"] = (
            f"{verified} of {len(chosen)} candidates verified under-trained: the model gives "
            f"them under {VERIFIED_BELOW:.0%} probability when asked to repeat them"
        )
        return self

    def figure(self) -> go.Figure:
        """The main indicator's histogram and its value against token id, candidates in red."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        if self.indicator is None:
            raise InvalidParameterError(
                f"{self.name}: no indicator was computed (a tokenizer without weights)"
            )
        table = self.table
        eligible = table[table["rank"].notna()]
        figure = make_subplots(
            rows=1,
            cols=2,
            column_widths=[0.4, 0.6],
            subplot_titles=(
                f"{self.indicator}: tokens that can be candidates",
                f"{self.indicator} by token id",
            ),
        )
        figure.add_trace(
            go.Histogram(
                x=eligible[self.indicator], nbinsx=120, name="tokens", marker_color="#4c78a8"
            ),
            row=1,
            col=1,
        )
        if self.threshold_value is not None:
            figure.add_vline(
                x=self.threshold_value, line_color="#d62728", line_dash="dash", row=1, col=1
            )
        values = table[self.indicator]
        groups = [
            ("reachable tokens", ~table["candidate"] & table["rank"].notna(), "#4c78a8", 3),
            ("other categories", table["rank"].isna() & ~table["reference"], "#bbbbbb", 3),
            ("reference tokens", table["reference"], "#2ca02c", 4),
            ("candidates", table["candidate"], "#d62728", 6),
        ]
        for name, mask, colour, size in groups:
            part = table[mask & values.notna()]
            figure.add_trace(
                go.Scattergl(
                    x=part["token_id"],
                    y=part[self.indicator],
                    mode="markers",
                    name=name,
                    marker={"color": colour, "size": size},
                    text=part["label"],
                    hovertemplate="%{text}<br>id %{x}<br>%{y:.4g}<extra></extra>",
                ),
                row=1,
                col=2,
            )
        figure.update_layout(
            title=f"Under-trained token candidates in {self.name}: {int(table['candidate'].sum())}",
            bargap=0.02,
            template="plotly_white",
        )
        figure.update_xaxes(title_text=self.indicator, row=1, col=1)
        figure.update_xaxes(title_text="token id", row=1, col=2)
        figure.update_yaxes(title_text=self.indicator, row=1, col=2)
        return figure

    def save(self, path: str | Path, *, top: int = 200) -> Path:
        """``.parquet`` / ``.csv``: the whole table; ``.html``: a self-contained page with the
        summary, the figure (when there is an indicator) and the ``top`` candidates."""
        path = check_report_path(path)
        suffix = path.suffix.lower()
        with atomic_path(path) as temporary:
            if suffix == ".parquet":
                self.table.to_parquet(temporary, index=False)
            elif suffix == ".csv":
                self.table.to_csv(temporary, index=False)
            else:
                temporary.write_text(self._html(top), encoding="utf-8")
        return path

    def _html(self, top: int) -> str:
        parts = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            f"<title>Token scan: {html.escape(self.name)}</title></head><body>",
            f"<h1>Token scan: {html.escape(self.name)}</h1>",
            f"<pre>{html.escape(str(self))}</pre>",
        ]
        if self.indicator is not None:
            parts.append(
                self.figure().to_html(
                    include_plotlyjs=True, full_html=False, config={"displaylogo": False}
                )
            )
            shown = self.candidates.head(top)
            parts.append(f"<h2>Candidates ({len(self.candidates):,}; first {len(shown)})</h2>")
            if self.caution is not None:
                parts.append(f"<p><strong>Not evidence:</strong> {html.escape(self.caution)}</p>")
            parts.append(shown.drop(columns=["key"]).to_html(index=False, float_format="%.4g"))
        parts.append(
            "<h2>Summary (JSON)</h2><pre>"
            + html.escape(json.dumps(self.summary(), indent=1, default=str, ensure_ascii=False))
            + "</pre></body></html>"
        )
        return "\n".join(parts)


def pd_na_booleans(values: pd.Series, below: float) -> pd.Series:
    """True below ``below``, False at or above it, missing where there is no value."""
    return (values < below).astype("boolean").mask(values.isna())


def check_report_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise InvalidParameterError(
            f"a token report is written as {', '.join(REPORT_SUFFIXES)}; got {path.name!r}"
        )
    return path


def rank_low_first(values: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """1 for the lowest eligible value, 2 for the next…; NaN where not eligible."""
    ranks = np.full(len(values), np.nan)
    rows = np.flatnonzero(eligible & np.isfinite(values))
    order = rows[np.argsort(values[rows], kind="stable")]
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def describe_indicators(names: list[str]) -> dict[str, str]:
    return {name: DESCRIPTIONS[name] for name in names}
