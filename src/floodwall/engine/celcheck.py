"""Static checks of one rule's CEL expression: every identifier resolved against the signal schema, types checked.

The runtime (the ``cel`` package) exposes no type checker, so this is a small parser for the CEL a
policy uses (literals, ``ns.signal``, unary and binary operators, ``?:``, ``in``, lists, maps, calls).
It reports problems; it never decides what a rule means. An expression it cannot parse but ``cel``
accepts is not rejected: only its ``ns.signal`` references are resolved (by a scan of its tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Types as names: CEL's own (int, uint, double, bool, string, null, list, map) and dyn (unknown).
NUMERIC = {"int", "uint", "double"}
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>0x[0-9a-fA-F]+u?|\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+u?)
  | (?P<str>[rR]?(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'))
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[<>!?:.,()\[\]{}+\-*/%])
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"true": "bool", "false": "bool", "null": "null"}
# Global functions a policy may call, and the type they return (argument types are not checked).
_FUNCTIONS = {"size": "int", "int": "int", "uint": "uint", "double": "double", "string": "string",
              "bool": "bool", "has": "bool", "duration": "dyn", "timestamp": "dyn", "type": "dyn",
              "dyn": "dyn"}
_METHODS = {"contains": "bool", "startsWith": "bool", "endsWith": "bool", "matches": "bool", "size": "int",
            "exists": "bool", "all": "bool", "exists_one": "bool", "map": "list", "filter": "list"}
_BINARY = [("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"), ("*", "/", "%")]


class _Unparsed(Exception):
    """This checker's parser does not cover the expression (``cel`` may still accept it)."""


@dataclass
class _Tok:
    kind: str
    text: str


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _Unparsed(text[pos:pos + 10])
        kind = m.lastgroup or "op"
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


def references(when: str) -> list[tuple[str, str]]:
    """Every ``ns.name`` pair in an expression outside string literals (the fallback resolution)."""
    try:
        toks = _tokens(when)
    except _Unparsed:
        return []
    return [(a.text, c.text) for a, b, c in zip(toks, toks[1:], toks[2:])
            if a.kind == "id" and b.text == "." and c.kind == "id"]


_MENTION = re.compile(r"\b(account|stream|incident)\.([a-z_]+)")


def mentions(when: str) -> list[tuple[str, str]]:
    """Every ``ns.name`` written in an expression, string literals included (the signals a verdict cites)."""
    return sorted(set(_MENTION.findall(when)))


def reads(when: str, namespaces: frozenset[str]) -> dict[str, frozenset[str] | None]:
    """The signals an expression can read, by namespace: names, or None where it may read the whole map.

    A namespace is read whole when it appears other than as ``ns.name`` (alone, indexed, a method's
    receiver), or when the expression is beyond this parser; an over-estimate is only slower, never wrong.
    """
    try:
        toks = _tokens(when)
    except _Unparsed:
        return dict.fromkeys(namespaces)
    out: dict[str, set[str] | None] = {}
    for i, tok in enumerate(toks):
        if tok.kind != "id" or tok.text not in namespaces or (i and toks[i - 1].text == "."):
            continue
        nxt = toks[i + 1:i + 4]
        if (len(nxt) >= 2 and nxt[0].text == "." and nxt[1].kind == "id"
                and (len(nxt) < 3 or nxt[2].text != "(")):
            got = out.setdefault(tok.text, set())
            if got is not None:
                got.add(nxt[1].text)
        else:
            out[tok.text] = None
    return {ns: None if names is None else frozenset(names) for ns, names in out.items()}


class _Checker:
    """Infers the type of each node while parsing; records every problem found."""

    def __init__(self, toks: list[_Tok], schema: dict[str, dict[str, str]]) -> None:
        self.toks, self.i, self.schema = toks, 0, schema
        self.problems: list[str] = []
        self.bound: list[str] = []  # variables of enclosing macros (``list.exists(x, x > 1)``)

    def peek(self) -> str | None:
        return self.toks[self.i].text if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> _Tok:
        if self.i >= len(self.toks) or (want is not None and self.toks[self.i].text != want):
            raise _Unparsed(want or "end")
        self.i += 1
        return self.toks[self.i - 1]

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def expr(self) -> str:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.take("?")
        if cond not in ("bool", "dyn"):
            self.problem(f"the condition before `?` is {cond}, not bool")
        a = self.expr()
        self.take(":")
        b = self.expr()
        return a if a == b else "dyn"

    def binary(self, level: int) -> str:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in _BINARY[level]:
            op = self.take().text
            right = self.binary(level + 1)
            left = self.combine(op, left, right)
        return left

    def combine(self, op: str, a: str, b: str) -> str:
        dyn = "dyn" in (a, b)
        if op in ("&&", "||"):
            for t in (a, b):
                if t not in ("bool", "dyn"):
                    self.problem(f"`{op}` needs bool on both sides, got {t}")
            return "bool"
        if op in ("==", "!="):
            if not dyn and a != b and not (a in NUMERIC and b in NUMERIC) and "null" not in (a, b):
                self.problem(f"`{op}` compares {a} with {b}")
            return "bool"
        if op in ("<", "<=", ">", ">="):
            if not dyn and not (a in NUMERIC and b in NUMERIC) and not (a == b and a in ("string", "bool")):
                self.problem(f"`{op}` cannot order {a} against {b}")
            return "bool"
        if op == "in":
            if b not in ("list", "map", "dyn"):
                self.problem(f"`in` needs a list or map on its right, got {b}")
            return "bool"
        # Arithmetic: CEL does not convert between int, uint and double (1 + 2.5 fails at run time).
        if dyn:
            return "dyn"
        if op == "+" and a == b and a in ("string", "list"):
            return a
        if a in NUMERIC and a == b:
            return a
        self.problem(f"`{op}` is not defined for {a} and {b} (CEL does not convert: use double(x) or int(x))")
        return "dyn"

    def unary(self) -> str:
        op = self.peek()
        if op == "!":
            self.take()
            t = self.unary()
            if t not in ("bool", "dyn"):
                self.problem(f"`!` needs bool, got {t}")
            return "bool"
        if op == "-":
            self.take()
            t = self.unary()
            if t not in NUMERIC and t != "dyn":
                self.problem(f"`-` needs a number, got {t}")
            return t
        return self.postfix()

    def postfix(self) -> str:
        t, path = self.primary()
        while self.peek() in (".", "["):
            if self.take().text == ".":
                name = self.take().text
                if self.peek() == "(":  # a method call: receiver.name(args)
                    self.call_method(name)
                    t, path = _METHODS.get(name, "dyn"), None
                    continue
                t, path = self.member(path, name), None
            else:
                self.expr()
                self.take("]")
                t, path = "dyn", None
        if path is not None:  # a namespace on its own (account, stream, incident) is a map of signals
            return "map"
        return t

    def call_method(self, name: str) -> None:
        """A method's arguments; a macro's first one names a variable bound in the rest."""
        toks = self.toks
        macro = name in ("exists", "all", "exists_one", "map", "filter")
        if macro and self.i + 2 < len(toks) and toks[self.i + 1].kind == "id" and toks[self.i + 2].text == ",":
            var = toks[self.i + 1].text
            self.i += 3
            self.bound.append(var)
            try:
                while self.peek() != ")":
                    self.expr()
                    if self.peek() == ",":
                        self.take(",")
                    elif self.peek() != ")":
                        raise _Unparsed(")")
                self.take(")")
            finally:
                self.bound.pop()
            return
        self.args(")")

    def member(self, ns: str | None, name: str) -> str:
        if ns is None:
            return "dyn"  # a field of something that is not a namespace: not in the schema
        known = self.schema[ns]
        if name not in known:
            self.problem(f"unknown signal {ns}.{name}")
            return "dyn"
        return known[name]

    def args(self, close: str) -> list[str]:
        self.take("(" if close == ")" else "[")
        out: list[str] = []
        while self.peek() != close:
            out.append(self.expr())
            if self.peek() == ",":
                self.take(",")
            elif self.peek() != close:
                raise _Unparsed(close)
        self.take(close)
        return out

    def primary(self) -> tuple[str, str | None]:
        if self.i >= len(self.toks):
            raise _Unparsed("end")
        tok = self.toks[self.i]
        if tok.kind == "num":
            self.take()
            return ("uint" if tok.text.endswith("u") else "double" if re.search(r"[.eE]", tok.text)
                    and not tok.text.startswith("0x") else "int"), None
        if tok.kind == "str":
            self.take()
            return "string", None
        if tok.text == "(":
            self.take()
            t = self.expr()
            self.take(")")
            return t, None
        if tok.text == "[":
            self.args("]")
            return "list", None
        if tok.text == "{":
            self.take("{")
            while self.peek() != "}":
                self.expr()
                self.take(":")
                self.expr()
                if self.peek() == ",":
                    self.take(",")
            self.take("}")
            return "map", None
        if tok.kind == "id":
            self.take()
            if tok.text in _KEYWORDS:
                return _KEYWORDS[tok.text], None
            if self.peek() == "(":
                self.args(")")
                return _FUNCTIONS.get(tok.text, "dyn"), None
            if tok.text in self.bound:
                return "dyn", None
            if tok.text in self.schema:
                return "map", tok.text
            self.problem(f"unknown name `{tok.text}` (signals are {', '.join(f'{n}.*' for n in self.schema)})")
            return "dyn", None
        raise _Unparsed(tok.text)


def check_expression(when: str, schema: dict[str, dict[str, str]]) -> list[str]:
    """Problems in one CEL expression against the schema (namespace -> signal -> type); [] if none."""
    try:
        c = _Checker(_tokens(when), schema)
        result = c.expr()
        if c.i != len(c.toks):
            raise _Unparsed(c.toks[c.i].text)
    except _Unparsed:
        # Not this parser's CEL: resolve what can be resolved, and leave typing to the run-time guard.
        return [f"unknown signal {ns}.{name}" for ns, name in references(when)
                if ns in schema and name not in schema[ns]]
    if result not in ("bool", "dyn"):
        c.problem(f"`when` must be true or false, got {result}")
    return c.problems
