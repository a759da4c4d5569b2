"""Event, verdict and action types: declared once here and passed through everywhere.

Events are immutable facts a platform sends (or the simulator plays): each has an ``id`` unique
to the event, a time ``ts`` in seconds since the Unix epoch, and an entity key (account or
stream). Their JSON form is tagged by ``type`` and versioned by ``v``. Decoding validates and
raises :class:`EventError` naming the field; :class:`DeadLetters` keeps what failed, with why.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal, Union

import msgspec
from msgspec import Meta

SCHEMA_VERSION = 1

# Bounds checked at the edge, so the store never meets an out-of-schema value: each matches the
# column it ends up in (floodwall/persistence/tables.py), never longer than the narrowest one.
Id = Annotated[str, Meta(max_length=64)]  # event ids: reports.id, dead-letter and gate-answer keys
Key = Annotated[str, Meta(max_length=128)]  # accounts, streams, devices: verdicts.key, actions.target
CaseRef = Annotated[str, Meta(max_length=80)]  # review case ids: cases.id
Short = Annotated[str, Meta(max_length=64)]  # enum-like words: reports.reason, scopes, IPs, phone numbers
Text = Annotated[str, Meta(max_length=4000)]  # free text: titles, chat lines, notes
Count = Annotated[int, Meta(ge=0, le=10**12)]  # viewers and other counts (non-negative, BigInteger-safe)
Share = Annotated[float, Meta(ge=0.0, le=1.0)]  # fractions (NaN fails both bounds)
Hex64 = Annotated[str, Meta(pattern=r"^[0-9a-fA-F]{64}$")]  # a PDQ hash
MAX_FRAME_SIDE = 4096
MAX_IMAGE_BYTES = 2_000_000  # an encoded keyframe; the decoded size is bounded by MAX_FRAME_SIDE too
Side = Annotated[int, Meta(ge=0, le=MAX_FRAME_SIDE)]  # frame width/height (0: not given)
Pixels = Annotated[bytes, Meta(max_length=MAX_FRAME_SIDE * MAX_FRAME_SIDE * 3)]
Image = Annotated[bytes, Meta(max_length=MAX_IMAGE_BYTES)]
MaybeHex64 = Annotated[str, Meta(max_length=64)]  # a PDQ hash or "" (hex checked in __post_init__)
Percent = Annotated[int, Meta(ge=0, le=100)]

ACTIONS = ("allow", "restore", "sample", "limit", "review", "notify", "takedown", "freeze")
# restore: undo of an earlier takedown or freeze (a reversed review decision, an undone mass action).
Action = Literal["allow", "restore", "sample", "limit", "review", "notify", "takedown", "freeze"]
# Severity decides which action wins when several rules fire on one subject.
SEVERITY = {name: rank for rank, name in enumerate(ACTIONS)}


class EventBase(msgspec.Struct, frozen=True, tag_field="type", kw_only=True):
    """Fields every event has."""

    id: Id
    ts: float
    v: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("`id` must not be empty")
        if not math.isfinite(self.ts) or self.ts < 0:
            raise ValueError("`ts` must be a finite, non-negative number of seconds")
        if self.v != SCHEMA_VERSION:
            raise ValueError(f"`v` {self.v} is not a supported schema version ({SCHEMA_VERSION})")


class AccountRegistered(EventBase, frozen=True, tag="account_registered"):
    """An account was created."""

    account: Key
    phone: Short
    device: Key
    ip: Short
    user_agent: Text = ""


class Login(EventBase, frozen=True, tag="login"):
    """A login attempt; ``credential_change`` names what the session changed, if anything."""

    account: Key
    device: Key
    ip: Short
    ok: bool = True
    credential_change: Literal["password", "phone", "email"] | None = None


class ProfileChanged(EventBase, frozen=True, tag="profile_changed"):
    """An account's avatar or display title changed (None: unchanged)."""

    account: Key
    avatar: bool | None = None
    title: Text | None = None


class StreamStarted(EventBase, frozen=True, tag="stream_started"):
    """An account asked to go live (the go-live gate answers this one)."""

    stream: Key
    account: Key
    device: Key
    ip: Short
    title: Text = ""


class StreamEnded(EventBase, frozen=True, tag="stream_ended"):
    """A stream stopped, on its own or by the platform."""

    stream: Key
    account: Key
    reason: Short = "ended"


class FrameSampled(EventBase, frozen=True, tag="frame_sampled", omit_defaults=True):
    """A downscaled keyframe of a live stream, in one of three forms (compact ones for the wire).

    - ``pixels``: raw RGB bytes, row-major, ``height*width*3`` (``width``/``height`` required);
    - ``image``: JPEG, PNG or WebP bytes (``width``/``height`` optional; if given, they must match);
    - ``pdq``: the frame's PDQ hash (64 hex digits) computed at the edge, with ``pdq_quality``
      (0-100; unknown counts as good) and ``pdq_mirrored`` (the left-right mirror image's hash,
      for mirrored copies). ``pdq`` may come alone or beside ``image``; with pixels or an image
      the engine hashes them itself and the edge hash is not used.
    """

    stream: Key
    account: Key
    width: Side = 0
    height: Side = 0
    pixels: Pixels = b""
    image: Image = b""
    pdq: MaybeHex64 = ""
    pdq_quality: Percent | None = None
    pdq_mirrored: MaybeHex64 = ""

    def __post_init__(self) -> None:
        EventBase.__post_init__(self)
        # Cheap checks only (no image decoding here): content/frames.py decodes, with size limits.
        if self.pdq_mirrored and not self.pdq:
            raise ValueError("`pdq_mirrored` given without `pdq`")
        if not (self.pixels or self.image or self.pdq):
            raise ValueError("`pixels` missing: a frame needs `pixels`, `image` or `pdq`")
        if self.pixels and self.image:
            raise ValueError("`image` and `pixels` both given: send one form of the frame")
        if self.pixels or self.width or self.height:
            if not (8 <= self.width <= MAX_FRAME_SIDE and 8 <= self.height <= MAX_FRAME_SIDE):
                raise ValueError(f"`width` and `height` must be between 8 and {MAX_FRAME_SIDE}")
        if self.pixels and len(self.pixels) != self.width * self.height * 3:
            raise ValueError(
                f"`pixels` has {len(self.pixels)} bytes; width*height*3 = {self.width * self.height * 3}"
            )
        if self.image:
            if len(self.image) > MAX_IMAGE_BYTES:
                raise ValueError(f"`image` has {len(self.image)} bytes; at most {MAX_IMAGE_BYTES}")
            if not _is_image(self.image):
                raise ValueError("`image` is not JPEG, PNG or WebP")
        for name in ("pdq", "pdq_mirrored"):
            h = getattr(self, name)
            if h and not _HEX64.fullmatch(h):
                raise ValueError(f"`{name}` must be 64 hex digits (a 256-bit PDQ hash)")
        if self.pdq_quality is not None and not 0 <= self.pdq_quality <= 100:
            raise ValueError("`pdq_quality` must be between 0 and 100")


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _is_image(b: bytes) -> bool:
    """True when ``b`` starts like a JPEG, PNG or WebP file."""
    return b[:3] == b"\xff\xd8\xff" or b[:8] == b"\x89PNG\r\n\x1a\n" or (b[:4] == b"RIFF" and b[8:12] == b"WEBP")


class ChatPosted(EventBase, frozen=True, tag="chat_posted"):
    """A chat line in a stream's room (``account`` is the poster)."""

    stream: Key
    account: Key
    text: Text


class ViewerCount(EventBase, frozen=True, tag="viewer_count"):
    """How many people watch a stream right now."""

    stream: Key
    viewers: Count

    def __post_init__(self) -> None:
        EventBase.__post_init__(self)
        if self.viewers < 0:
            raise ValueError("`viewers` must be >= 0")


class ReportFiled(EventBase, frozen=True, tag="report_filed"):
    """A user reported a stream."""

    stream: Key
    reporter: Key
    reason: Short = "other"


class ApiCall(EventBase, frozen=True, tag="api_call"):
    """A call to the platform's API by a principal (account or integration key)."""

    principal: Key
    endpoint: Annotated[str, Meta(max_length=256)]
    scope: Short = ""
    account: Key | None = None


class ReviewDecided(EventBase, frozen=True, tag="review_decided"):
    """Feedback: a human reviewer decided a review item (it acts on everything the item covers)."""

    item: CaseRef
    reviewer: Key
    violating: bool
    note: Text = ""


class ReviewReversed(EventBase, frozen=True, tag="review_reversed"):
    """Feedback: a decision was undone (reviewer's undo or upheld appeal); what it removed comes back."""

    item: CaseRef
    reviewer: Key
    note: Text = ""


Event = Union[
    AccountRegistered,
    Login,
    ProfileChanged,
    StreamStarted,
    StreamEnded,
    FrameSampled,
    ChatPosted,
    ViewerCount,
    ReportFiled,
    ApiCall,
    ReviewDecided,
    ReviewReversed,
]
EVENT_TYPES: tuple[type, ...] = Event.__args__  # type: ignore[attr-defined]
# Human decisions: only keys with the review scope may send them, under their own name (service/principals.py).
FEEDBACK_TYPES: tuple[type, ...] = (ReviewDecided, ReviewReversed)


# ---- the partitioned service's own log events ------------------------------------------------
# With `--log nats://`, each worker owns the accounts of one partition. What only a global view can
# see (content shared across rooms, rings, shared devices and networks, the incident level) comes
# back from the coordinator as these events, in the partition's own log, so that a worker's state
# stays a function of its log. Operators' bank edits travel the same way. Clients never send them:
# the API decodes `Event`, the workers `LogEvent`.


class BankChanged(EventBase, frozen=True, tag="bank_changed"):
    """A hash bank edit every partition applies: an operator's, or content confirmed in another partition."""

    bank: Short
    op: Literal["create", "add", "remove", "remove_source"]
    kind: Literal["block", "allow"] = "block"
    hashes: Annotated[list[Hex64], Meta(max_length=100_000)] = []  # PDQ hex
    source: Key = ""
    note: Annotated[str, Meta(max_length=500)] = ""  # bank_entries.note


class ClusterNoticed(EventBase, frozen=True, tag="cluster_noticed"):
    """The coordinator's view of a content cluster with rooms in more than one partition."""

    cluster: Key
    streams: Annotated[list[Key], Meta(max_length=100_000)]  # this partition's rooms in it
    rooms: Count  # live rooms in every partition
    accounts: Count
    risky_share: Share
    trusted_share: Share
    confirmed: bool = False


class RingNoticed(EventBase, frozen=True, tag="ring_noticed"):
    """The coordinator's view of an account ring with members in more than one partition."""

    ring: Key
    accounts: Annotated[list[Key], Meta(max_length=100_000)]  # this partition's members
    size: Count
    confirmed: bool = False
    evidence: dict[str, int] = {}


class KeyCount(msgspec.Struct, frozen=True, array_like=True):
    """Counts over every partition for one shared key (a device, a /24 network, a number block)."""

    kind: Literal["device", "net", "block"]
    key: str
    accounts: int
    fresh: int = 0  # of them, registered less than a day before (networks only)
    regs: list[float] = []  # registrations on the key in the last hour
    golives: list[float] = []  # go-lives from the key in the last ten minutes (networks only)


class KeysNoticed(EventBase, frozen=True, tag="keys_noticed"):
    """Shared-key counts for keys this partition's accounts use and other partitions' accounts use too."""

    keys: list[KeyCount]


class AccountsNoticed(EventBase, frozen=True, tag="accounts_noticed"):
    """Registration times of fresh accounts other partitions own (a reporter's age weighs its reports)."""

    created: dict[str, float]


# The incident levels by number (0-3): shared by the engine's `incident.level`, policies, playbooks and response.
INCIDENT_LEVELS = ("normal", "elevated", "severe", "critical")


class LevelNoticed(EventBase, frozen=True, tag="level_noticed"):
    """The incident level the coordinator set from every partition's counts (an index into INCIDENT_LEVELS)."""

    level: Count
    why: Text = ""
    evidence: dict = {}


class MassOrder(msgspec.Struct, frozen=True, array_like=True):
    """One order of a mass action: freeze, notify, take down or restore one subject ("*": every stream)."""

    action: Literal["takedown", "restore", "freeze", "notify"]
    subject: Literal["stream", "account"]
    target: Key


class MassOrders(EventBase, frozen=True, tag="mass_orders"):
    """An executed or undone mass action's orders (response/mass.py), carried out in the engine's next batch.

    The embedded service journals it like any event, so a restart replays it into the engine's state."""

    mass_action: Short  # the proposal's id ("ma3")
    orders: Annotated[list[MassOrder], Meta(max_length=100_000)]
    reason: Text


LogEvent = Union[Event, BankChanged, ClusterNoticed, RingNoticed, KeysNoticed, AccountsNoticed, LevelNoticed,
                 MassOrders]


# ---- what a worker tells the coordinator (compact: hashes and keys, never pixels) ------------


class RoomFrames(msgspec.Struct, frozen=True, array_like=True):
    """One room's good-quality frame hashes from one batch, with its owner's standing then."""

    stream: str
    account: str
    ts: float
    hashes: bytes  # n x 32 bytes of PDQ (uint64 x 4 per hash, little-endian)
    mirrored: bytes  # the same frames mirrored
    risk: float
    trusted: bool


class AccountSeen(msgspec.Struct, frozen=True, array_like=True):
    """An account used a device and network (registration, login, go-live)."""

    account: str
    ts: float
    kind: Literal["registered", "login", "golive"]
    device: str
    net: str
    block: str = ""
    created: float | None = None
    live: bool = False  # happening now (not backfilled)
    trusted: bool = False


class Confirmed(msgspec.Struct, frozen=True, array_like=True):
    """A room's content was judged: bad (a confident takedown, a reviewer) or, when not ``violating``, fine."""

    stream: str
    account: str
    bank: str  # where its hashes went ("confirmed", "reviewed"; "honest" for fine content)
    source: str  # the verdict, so that an undo can withdraw them
    hashes: list[str]
    violating: bool = True


class Sketch(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the coordinator hears of one partition's log message."""

    partition: int
    seq: int
    ts: float
    frames: list[RoomFrames] = []
    seen: list[AccountSeen] = []
    confirmed: list[Confirmed] = []
    withdrawn: list[str] = []  # sources of undone decisions
    closed: list[str] = []  # rooms that ended or were taken down
    counts: dict[str, float] = {}  # the surge detector's per-batch counts


class Verdict(msgspec.Struct, kw_only=True):
    """What the policy decided about one subject, and why."""

    id: str
    ts: float
    subject: Literal["stream", "account", "ring", "cluster"]
    key: str
    action: Action
    rules: list[str]
    evidence: dict[str, object] = {}
    shadow: bool = False
    policy: str = ""
    shadow_rules: list[str] = []
    sample_every: float | None = None


class ActionOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One instruction to the platform, keyed so that sending it twice does nothing twice."""

    key: str
    ts: float
    action: Action
    subject: Literal["stream", "account"]
    target: str
    verdict: str
    reason: str = ""
    sample_every: float | None = None


class EventError(ValueError):
    """A raw event failed validation; ``field`` names the offending field ("" if the whole record)."""

    def __init__(self, field: str, reason: str, raw: bytes | str = b""):
        super().__init__(f"{field or 'event'}: {reason}" if field else reason)
        self.field = field
        self.reason = reason
        self.raw = raw


_PATH = re.compile(r"at `\$\.?([^`]*)`")
_decoder = msgspec.json.Decoder(Event)
_encoder = msgspec.json.Encoder()


def decode_event(raw: bytes | str) -> Event:
    """Decode and validate one JSON event, raising EventError naming the bad field."""
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        m = _PATH.search(msg)
        field = m.group(1) if m else ""
        if not field:
            # __post_init__ errors name the field in backticks: "`pixels` has ..."
            m2 = re.match(r"`([^`]+)`", msg)
            field = m2.group(1) if m2 else ""
        reason = _PATH.sub("", msg).rstrip(" -")
        if "Object missing required field" in msg:
            m3 = re.search(r"required field `([^`]+)`", msg)
            field = m3.group(1) if m3 else field
        if "Invalid value" in msg and field == "type":
            reason = f"unknown event type; expected one of {', '.join(sorted(t.__struct_config__.tag for t in EVENT_TYPES))}"
        raise EventError(field, reason, raw) from None
    except msgspec.DecodeError as exc:
        raise EventError("", f"not valid JSON: {exc}", raw) from None


def encode_event(event: Event) -> bytes:
    """JSON bytes of one event (the inverse of decode_event)."""
    return _encoder.encode(event)


def event_type(event: Event) -> str:
    """The tag of an event, e.g. ``"frame_sampled"``."""
    return event.__struct_config__.tag  # type: ignore[return-value]


class DeadLetter(msgspec.Struct, frozen=True):
    """An event that failed validation, kept with the reason."""

    raw: str
    field: str
    reason: str
    line: int | None = None


class DeadLetters:
    """Malformed input kept with its reason: nothing is dropped silently."""

    def __init__(self) -> None:
        self.items: list[DeadLetter] = []

    def add(self, err: EventError, line: int | None = None) -> None:
        """Keep a failed record and why it failed."""
        raw = err.raw.decode("utf-8", "replace") if isinstance(err.raw, bytes) else err.raw
        self.items.append(DeadLetter(raw=raw[:10_000], field=err.field, reason=err.reason, line=line))

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)
