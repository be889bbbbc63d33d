"""One gateway key per learner, issued from the roster: hashed at rest, scoped, rate-limited.

The class shares one embedded stack (docs/course-server.md says why), so the gateway tells the
learners apart by key: each learner's requests count against their own quota and show under
their own name in the audit log. The gateway's key file (reference_stack/gateway/auth.py's
format, SERVELAB_GATEWAY_KEYS_FILE) holds only each key's SHA-256; the plaintext goes once to
the learner, into ``~/.servelab/gateway-key`` (mode 0600, theirs), where
``servelab.course_server.learner.gateway_key()`` finds it. It is never printed and never
stored by the instructor unless they ask for a hand-out file (``--plaintext-csv``).

Issuing again is safe: learners who already have a key keep it (their scope and quota are
updated), new learners get one, ``--rotate NAME`` replaces one, and learners no longer on the
roster lose theirs. Keys in the file that are not learner keys (an instructor's, an
application's) are kept as they are.
"""

from __future__ import annotations

import csv
import os
import pwd
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reference_stack.gateway.auth import ApiKey, KeyFile, hash_key, new_key
from reference_stack.gateway.routing import RoutingTable
from reference_stack.gateway.settings import HERE as GATEWAY_DIR
from servelab.course_server.roster import Learner

#: A learner's quota on the class's shared stack. 300 requests a minute (5 a second) lets lab
#: 06's 64-stream burst through several times a minute, yet stops a runaway loop at a tenth of
#: the laptop key's 3,000; 100k tokens a minute is about ten times what the CPU engine can
#: generate for one learner (~20 tokens/s per stream, 8 streams), so on the embedded stack the
#: request limit binds first and tokens only limit the provider stand-ins.
CLASS_REQUESTS_PER_MINUTE = 300
CLASS_TOKENS_PER_MINUTE = 100_000
#: Where a learner's key is delivered, relative to their home.
HOME_KEY_FILE = Path(".servelab") / "gateway-key"
#: The name of a learner's key in the key file (and in every audit record).
NAME_PREFIX = "learner:"
SOURCE = "servelab course keys --roster (servelab/course_server/keys.py): one key per learner"


class KeyIssueError(ValueError):
    """Keys cannot be issued as asked; nothing was written."""


@dataclass
class Issued:
    """What one `servelab course keys` run did."""

    keys_file: Path
    new: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    delivered: list[Path] = field(default_factory=list)
    handout: Path | None = None


def course_models(routing_file: Path = GATEWAY_DIR / "routing.yaml") -> list[str]:
    """The model aliases the labs use: every alias whose first upstream is always there.

    An alias that starts at an optional upstream (the real OpenAI API, which costs money and
    needs the instructor's key) is left out of learners' scope.
    """
    table = RoutingTable.load(routing_file)
    out = []
    for alias, model in table.models.items():
        steps = model.steps
        if steps and not table.upstreams[steps[0].upstream].optional:
            out.append(alias)
    return sorted(out)


def course_data_classes(routing_file: Path = GATEWAY_DIR / "routing.yaml") -> list[str]:
    """Every data class of the routing table, ``public`` first (a key's first is its default)."""
    names = list(RoutingTable.load(routing_file).data_classes)
    return sorted(names, key=lambda n: (n != "public", n))


def key_name(username: str) -> str:
    return NAME_PREFIX + username


def _load(path: Path) -> list[ApiKey]:
    if not path.exists():
        return []
    try:
        return KeyFile.model_validate(yaml.safe_load(path.read_text())).keys
    except Exception as exc:  # a broken file must stop us before anything is changed
        raise KeyIssueError(f"key file {path} cannot be read: {exc}") from exc


def _home(username: str) -> Path | None:
    try:
        return Path(pwd.getpwnam(username).pw_dir)
    except KeyError:
        return None


def _write_private(path: Path, text: str, mode: int, owner: tuple[int, int] | None) -> None:
    """Write ``text`` atomically (temp file + rename), with ``mode`` and ``owner`` set first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        if owner:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def deliver(username: str, key: str) -> Path:
    """Put ``key`` in the learner's ``~/.servelab/gateway-key`` (0600, theirs); needs root."""
    user = pwd.getpwnam(username)
    folder = Path(user.pw_dir) / HOME_KEY_FILE.parent
    if folder.is_symlink():
        raise KeyIssueError(f"{folder} is a symbolic link: refusing to write a key through it")
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chown(folder, user.pw_uid, user.pw_gid)
    folder.chmod(0o700)
    path = folder / HOME_KEY_FILE.name
    _write_private(path, key + "\n", 0o600, (user.pw_uid, user.pw_gid))
    return path


def issue(
    learners: list[Learner],
    keys_file: Path,
    *,
    models: list[str] | None = None,
    data_classes: list[str] | None = None,
    requests_per_minute: int = CLASS_REQUESTS_PER_MINUTE,
    tokens_per_minute: int = CLASS_TOKENS_PER_MINUTE,
    rotate: set[str] | None = None,
    to_homes: bool = True,
    plaintext_csv: Path | None = None,
) -> Issued:
    """Issue, keep, rotate and revoke learner keys so the key file matches the roster.

    Every new key must reach its learner: into their home (``to_homes``, for learners with an
    account here) or into ``plaintext_csv``. A new key that would reach nobody is refused
    before anything is written, since only its hash is kept.
    """
    models = models or course_models()
    data_classes = data_classes or course_data_classes()
    rotate = set(rotate or ())
    unknown = rotate - {learner.username for learner in learners}
    if unknown:
        raise KeyIssueError(f"--rotate names learners not on the roster: {sorted(unknown)}")
    existing = _load(keys_file)
    by_name = {k.name: k for k in existing}
    result = Issued(keys_file)
    plaintext: dict[str, str] = {}
    kept_keys: list[ApiKey] = [k for k in existing if not k.name.startswith(NAME_PREFIX)]
    on_roster = {key_name(learner.username) for learner in learners}
    result.revoked = sorted(
        k.name.removeprefix(NAME_PREFIX)
        for k in existing
        if k.name.startswith(NAME_PREFIX) and k.name not in on_roster
    )
    for learner in learners:
        old = by_name.get(key_name(learner.username))
        if old is not None and learner.username not in rotate:
            digest = old.sha256
            result.kept.append(learner.username)
        else:
            plaintext[learner.username] = new_key()
            digest = hash_key(plaintext[learner.username])
            result.new.append(learner.username)
        kept_keys.append(
            ApiKey(
                name=key_name(learner.username),
                owner=learner.username,
                kind="learner",
                sha256=digest,
                models=list(models),
                data_classes=list(data_classes),
                may_set_data_class=len(data_classes) > 1,
                requests_per_minute=learner.requests_per_minute or requests_per_minute,
                tokens_per_minute=learner.tokens_per_minute or tokens_per_minute,
            )
        )
    homeless = [u for u in plaintext if not (to_homes and _home(u))]
    if homeless and plaintext_csv is None:
        raise KeyIssueError(
            f"no account on this machine for {', '.join(homeless)}: their new keys could not "
            "be delivered (only hashes are kept). Create the accounts first, or pass "
            "--plaintext-csv FILE to hand the keys out yourself."
        )
    if to_homes and os.geteuid() != 0 and any(_home(u) for u in plaintext):
        raise KeyIssueError("delivering keys into learners' homes needs root (or --no-homes)")
    document = {
        "source": SOURCE,
        "keys": [k.model_dump(exclude_defaults=False) for k in kept_keys],
    }
    KeyFile.model_validate(document)  # the gateway's own validation, before writing
    header = (
        "# Gateway keys of the class: SHA-256 hashes only (servelab course keys --roster).\n"
        "# Point SERVELAB_GATEWAY_KEYS_FILE at this file; the gateway reads it at start-up.\n"
    )
    # 0640: the gateway's service user may read it through its group; learners may not.
    _write_private(keys_file, header + yaml.safe_dump(document, sort_keys=False), 0o640, None)
    if plaintext_csv is not None and plaintext:
        lines = [["username", "key"], *([u, k] for u, k in plaintext.items())]
        with tempfile.SpooledTemporaryFile(mode="w+", newline="") as buf:
            csv.writer(buf).writerows(lines)
            buf.seek(0)
            _write_private(plaintext_csv, buf.read(), 0o600, None)
        result.handout = plaintext_csv
    for username, key in plaintext.items():
        if to_homes and _home(username):
            result.delivered.append(deliver(username, key))
    return result
