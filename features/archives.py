"""Competition archives (zip, 7z): listing, reading members in memory, safe extraction.

Every entry name is checked before anything is read or written: an absolute path, a `..`
component or a link is refused with an error naming the entry, so nothing can land outside
the target folder.
"""
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from pipelines.core.errors import UserError

ARCHIVE_SUFFIXES = (".zip", ".7z")


def _refuse(archive, name, why):
    raise UserError(f"{archive}: entry {name!r} {why}; refusing to read this archive (re-download it)")


def check_entry(archive, name, is_link=False):
    clean = name.replace("\\", "/")
    parts = PurePosixPath(clean).parts
    if clean.startswith("/") or re.match(r"^[A-Za-z]:", clean):
        _refuse(archive, name, "has an absolute path")
    if ".." in parts:
        _refuse(archive, name, "would land outside the extraction folder ('..')")
    if is_link:
        _refuse(archive, name, "is a link")


class Archive:
    """Read-only view of a zip or 7z file with checked entry names."""

    def __init__(self, path):
        self.path = Path(path)
        if self.path.suffix.lower() not in ARCHIVE_SUFFIXES:
            raise UserError(f"{self.path}: not a .zip or .7z archive")
        try:
            self._entries = self._list()
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise UserError(f"{self.path}: cannot read the archive ({error}); re-download it") from None
        except Exception as error:  # py7zr raises its own error types for damaged archives
            if type(error).__module__.startswith("py7zr"):
                raise UserError(f"{self.path}: cannot read the archive ({error}); re-download it") from None
            raise
        for name, is_link, _ in self._entries:
            check_entry(self.path, name, is_link)

    def _list(self):
        """(name, is_link, is_dir) for every entry."""
        if self.path.suffix.lower() == ".zip":
            with zipfile.ZipFile(self.path) as archive:
                return [(i.filename, stat.S_ISLNK(i.external_attr >> 16), i.is_dir()) for i in archive.infolist()]
        import py7zr

        with py7zr.SevenZipFile(self.path) as archive:
            return [(f.filename, f.is_symlink, f.is_directory) for f in archive.files]

    def files(self):
        """Names of the regular files."""
        return [name for name, _, is_dir in self._entries if not is_dir]

    def read_all(self, names=None):
        """{name: bytes} for `names` (default: every file), read in one pass."""
        wanted = set(self.files() if names is None else names)
        if self.path.suffix.lower() == ".zip":
            with zipfile.ZipFile(self.path) as archive:
                return {name: archive.read(name) for name in wanted}
        import py7zr
        from py7zr.io import BytesIOFactory

        factory = BytesIOFactory(limit=1 << 34)
        with py7zr.SevenZipFile(self.path) as archive:
            archive.extract(targets=list(wanted), factory=factory)
        return {name: _read(product) for name, product in factory.products.items() if name in wanted}

    def extract(self, target, before_rename=None, replace=False):
        """Extract into `target` through a temporary folder renamed into place when complete,
        so an interrupted extraction never leaves a folder that looks complete.
        `before_rename(folder)` may add files (a manifest) to the finished temporary folder;
        `replace` swaps out an existing `target` (otherwise an existing one is kept)."""
        target = Path(target)
        if target.exists() and not replace:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            self._extract_into(temporary)
            if before_rename:
                before_rename(temporary)
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                os.replace(target, old / target.name)
                os.replace(temporary, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(temporary, target)
        except BaseException as error:
            shutil.rmtree(temporary, ignore_errors=True)
            if isinstance(error, (zipfile.BadZipFile, EOFError)) or type(error).__module__.startswith("py7zr"):
                raise UserError(f"{self.path}: cannot extract it ({error}); re-download it") from None
            raise
        return target

    def _extract_into(self, folder):
        """Every regular file, streamed (names were checked when the archive was opened)."""
        root = folder.resolve()
        for name in self.files():
            if not (root / name).resolve().is_relative_to(root):
                _refuse(self.path, name, "would land outside the extraction folder")
        if self.path.suffix.lower() == ".zip":
            with zipfile.ZipFile(self.path) as archive:
                for name in self.files():
                    out = folder / name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(name) as source, open(out, "wb") as destination:
                        shutil.copyfileobj(source, destination, 1 << 20)
            return
        import py7zr

        with py7zr.SevenZipFile(self.path) as archive:
            archive.extract(path=folder, targets=self.files())


def _read(product):
    product.seek(0)
    return product.read()
