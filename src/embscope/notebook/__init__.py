"""The explorer inline in a notebook: ``embscope.widget(space, ...)`` / ``space.explore()``
(an anywidget; ``pip install 'embscope[notebook]'``)."""

from .explorer import Explorer, widget

__all__ = ["Explorer", "widget"]
