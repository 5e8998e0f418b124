"""The files a message carries besides its HTML: the page's images and the attachments asked
for, from Confluence, another site or an export's folder, downloaded over one bounded pool."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit

from mailpage_cli import confluence, downloads, localexport, render, sites
from mailpage_cli.errors import DownloadError, UsageError
from mailpage_cli.models import Page, Resource

if TYPE_CHECKING:
    import requests

T = TypeVar("T")
R = TypeVar("R")


def parallel(function: Callable[[T], R], items: Iterable[T], limit: int,
             done: Callable[[], None] = lambda: None) -> list[R]:
    """``map`` over at most ``limit`` threads: downloads wait on the network, not the CPU.
    ``done`` is called (from the worker thread) as each item is finished."""
    items = list(items)

    def each(item: T) -> R:
        result = function(item)
        done()
        return result

    if len(items) < 2 or limit < 2:
        return [each(item) for item in items]
    with ThreadPoolExecutor(min(limit, len(items))) as pool:
        return list(pool.map(each, items))


@dataclass(frozen=True)
class Wanted:
    """An attachment asked for, not yet loaded."""

    name: str  # its file name in the message
    path: str  # its URL path, unquoted: where the page shows it as an image, the same path
    load: Callable[[], Resource | None]  # None: missing (from an export)


@dataclass(frozen=True)
class PageFiles:
    """Where one page's files come from. ``client`` and ``session`` are called only when a
    file needs them: a local export with no remote image connects to nothing."""

    page: Page
    export: localexport.ExportPage | None
    client: Callable[[], confluence.Client]
    session: Callable[[], requests.Session]  # credential-free, for other sites
    site: str | None
    budget: int  # bytes, per file
    concurrency: int
    embed_external: bool  # --external-images embed
    warn: Callable[[str], None]

    def wanted(self, everything: bool, globs: Sequence[str],
               listed: Future[list[confluence.AttachmentInfo]] | None) -> list[Wanted]:
        """The attachments ``--attachments`` (``everything``) / ``--attach`` (``globs``) ask
        for. ``listed`` is the page's attachment list, when already being fetched."""
        if not (everything or globs):
            return []
        available: list[Wanted]
        if self.export is not None:
            available = [Wanted(name, unquote(rel), _export_file(self.export, rel, name))
                         for name, rel in self.export.attachments]
        else:
            infos = listed.result() if listed else self.client().attachments(str(self.page.id))
            available = [self._confluence_file(info) for info in infos]
        wanted = [w for w in available
                  if everything or any(fnmatch.fnmatch(w.name, glob) for glob in globs)]
        if globs and not wanted:
            names = ", ".join(w.name for w in available) or "no attachments"
            raise UsageError(f"No attachment of the page matches {', '.join(globs)}",
                             f"The page has: {names}.")
        return wanted

    @staticmethod
    def jobs(sources: Sequence[str], wanted: Sequence[Wanted]) -> int:
        """How many files :meth:`gather` fetches: a picture the page shows is fetched once,
        for both its places in the mail."""
        shown = {unquote(urlsplit(src).path) for src in sources}
        return len(sources) + sum(w.path not in shown for w in wanted)

    def gather(self, sources: Sequence[str], wanted: Sequence[Wanted],
               done: Callable[[], None] = lambda: None,
               ) -> tuple[dict[str, Resource | None], list[Resource | None]]:
        """The images (by source; ``None`` leaves one linked or out) and the ``wanted``
        attachments, in order (``None``: missing), calling ``done`` as each file is in. A
        picture the page shows is fetched once, for both its places in the mail."""
        shown = {unquote(urlsplit(src).path): src for src in sources}
        jobs: list[Callable[[], Resource | None]] = [
            *(functools.partial(self.image, src) for src in sources),
            *(w.load for w in wanted if w.path not in shown),
        ]
        found = parallel(lambda job: job(), jobs, self.concurrency, done)
        images = dict(zip(sources, found[:len(sources)], strict=True))
        fetched_files = iter(found[len(sources):])
        attachments: list[Resource | None] = []
        for w in wanted:
            if w.path not in shown:
                attachments.append(next(fetched_files))
            elif (image := images[shown[w.path]]) is not None:
                attachments.append(replace(image, filename=w.name))
            else:  # left out of the page (not an image, say): the file itself, then
                attachments.append(w.load())
        return images, attachments

    def image(self, src: str) -> Resource | None:
        """An image's bytes, typed by their content; ``None`` leaves it linked (external) or
        out (missing, or not a picture mail clients show)."""
        found = self._fetch_image(src)
        if found is None:
            return None
        image, problem = render.typed(found)
        if problem:
            self.warn(problem)
        return image

    def _fetch_image(self, src: str) -> Resource | None:
        if self.export is not None and "://" not in src:
            return self.export.resource(src)
        try:
            if self.site and sites.same_site(src, self.site):
                return self.client().download(src, self.budget)
            if self.embed_external:
                public = self.session()
                return downloads.fetch(src, session=public, trusted=None, budget=self.budget,
                                       public=public)
        except DownloadError as exc:
            self.warn(str(exc))
        return None

    def _confluence_file(self, info: confluence.AttachmentInfo) -> Wanted:
        return Wanted(info.filename, unquote(urlsplit(info.url).path),
                      lambda: self.client().download(info.url, self.budget, info.filename))


def present(wanted: Sequence[Wanted], attachments: Sequence[Resource | None],
            ) -> tuple[Resource, ...]:
    """The attachments, or an error naming those missing from the export."""
    if missing := [w.name for w, got in zip(wanted, attachments, strict=True) if got is None]:
        raise UsageError(f"Attachments missing from the export: {', '.join(missing)}",
                         "Export the space again with its attachments.")
    return tuple(a for a in attachments if a is not None)


def _export_file(export: localexport.ExportPage, relative: str,
                 name: str) -> Callable[[], Resource | None]:
    return lambda: localexport.read_resource(export.folder, relative, name)
