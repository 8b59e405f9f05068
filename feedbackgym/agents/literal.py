"""Read rl-zoo3's Python-looking hyperparameter strings without running them.

rl-zoo3 files write some values as Python expressions, e.g.
``policy_kwargs: "dict(net_arch=[64, 64], activation_fn=nn.ReLU)"`` or
``normalize: "dict(norm_obs=True, norm_reward=False)"``, and rl-zoo3 ``eval``\\ s them. A
hyperparameter file (or a run's ``config.json`` read back on ``--resume``) is data, so here such
a string is parsed with :mod:`ast` and only these forms are accepted:

* numbers (also negative), strings, ``True``/``False``/``None``;
* lists and tuples of accepted values; ``{...}`` literals and ``dict(key=value, ...)`` calls;
* activation functions named from :data:`ACTIVATIONS` (``nn.ReLU``, ``th.nn.Tanh``, ``"relu"``...);
* optimizers named from :data:`OPTIMIZERS` (``th.optim.Adam``, ``torch.optim.RMSprop``...).

Anything else (another call, an attribute chain, a subscript, a lambda, a comprehension, dunder
names) raises ``ValueError`` naming the key and the offending part, before anything runs.
"""

from __future__ import annotations

import ast
from typing import Any

#: activation functions a string may name (``torch.nn`` class names; lower-case aliases)
ACTIVATIONS = ("ReLU", "Tanh", "ELU", "LeakyReLU", "GELU", "SiLU", "Sigmoid", "Softplus", "Mish", "SELU",
               "Hardtanh", "Identity")
_ACTIVATION_ALIASES = {"relu": "ReLU", "tanh": "Tanh", "elu": "ELU", "leaky_relu": "LeakyReLU", "gelu": "GELU",
                       "silu": "SiLU", "sigmoid": "Sigmoid", "softplus": "Softplus", "mish": "Mish", "selu": "SELU"}
#: optimizers a string may name (``torch.optim`` class names)
OPTIMIZERS = ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam")
_TORCH_ROOTS = ("th", "torch")


class _Ref:
    """A resolved allow-listed name: ``("nn", "ReLU")`` or ``("optim", "Adam")``."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def load(self):
        import torch

        return getattr(torch.nn if self.module == "nn" else torch.optim, self.name)


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _ref(parts: list[str]) -> _Ref | None:
    """``nn.ReLU``, ``th.nn.ReLU``, ``torch.nn.ReLU``, ``th.optim.Adam``, ``torch.optim.Adam``."""
    if len(parts) == 2 and parts[0] == "nn" and parts[1] in ACTIVATIONS:
        return _Ref("nn", parts[1])
    if len(parts) == 3 and parts[0] in _TORCH_ROOTS:
        if parts[1] == "nn" and parts[2] in ACTIVATIONS:
            return _Ref("nn", parts[2])
        if parts[1] == "optim" and parts[2] in OPTIMIZERS:
            return _Ref("optim", parts[2])
    return None


def _value(node: ast.AST, key: str) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float, str))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _value(node.operand, key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if isinstance(node.op, ast.USub) else v
    elif isinstance(node, (ast.List, ast.Tuple)):
        items = [_value(e, key) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    elif isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise ValueError(f"{key}: dict keys must be strings, got {_source(k or node)!r}")
            out[k.value] = _value(v, key)
        return out
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        if node.args or any(kw.arg is None for kw in node.keywords):
            raise ValueError(f"{key}: dict(...) takes keyword arguments only, got {_source(node)!r}")
        return {kw.arg: _value(kw.value, key) for kw in node.keywords}
    elif isinstance(node, (ast.Attribute, ast.Name)):
        parts = _dotted(node)
        if parts is not None:
            if parts in (["True"], ["False"], ["None"]):
                return {"True": True, "False": False, "None": None}[parts[0]]
            ref = _ref(parts)
            if ref is not None:
                return ref
    raise ValueError(f"{key}: {_source(node)!r} is not allowed here; expected numbers, strings, lists, "
                     f"dict(...) and activation ({', '.join('nn.' + a for a in ACTIVATIONS[:4])}, ...) or "
                     f"optimizer (th.optim.{', th.optim.'.join(OPTIMIZERS[:3])}, ...) names")


def _source(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every parsed node
        return type(node).__name__


def _load(v: Any) -> Any:
    if isinstance(v, _Ref):
        return v.load()
    if isinstance(v, dict):
        return {k: _load(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_load(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_load(x) for x in v)
    return v


def parse(text: str, key: str) -> Any:
    """The value of an rl-zoo3 expression string (see the module docstring for what is accepted)."""
    if len(text) > 10_000:
        raise ValueError(f"{key}: expression too long ({len(text)} characters)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"{key}: cannot read {text!r} ({e.msg})") from None
    return _load(_value(tree.body, key))


def activation(v: Any, key: str = "policy_kwargs.activation_fn"):
    """An activation class from a class, an allow-listed name (``"nn.ReLU"``, ``"relu"``) or None."""
    if v is None or isinstance(v, type):
        return v
    if isinstance(v, str):
        name = _ACTIVATION_ALIASES.get(v.lower(), v)
        if name.startswith("torch.nn.modules."):  # a class as a run's config.json records it
            name = name.rsplit(".", 1)[-1]
        ref = _ref(name.split(".")) or (_Ref("nn", name) if name in ACTIVATIONS else None)
        if ref is not None and ref.module == "nn":
            return ref.load()
    raise ValueError(f"{key}: unknown activation {v!r}; expected one of {list(ACTIVATIONS)} "
                     f"(as nn.<Name> or {sorted(_ACTIVATION_ALIASES)})")


def optimizer(v: Any, key: str = "policy_kwargs.optimizer_class"):
    """An optimizer class from a class or an allow-listed name (``"th.optim.Adam"``, ``"Adam"``)."""
    if v is None or isinstance(v, type):
        return v
    if isinstance(v, str):
        if v.startswith("torch.optim.") and len(v.split(".")) == 4:  # as a run's config.json records it
            v = v.rsplit(".", 1)[-1]
        ref = _ref(v.split(".")) or (_Ref("optim", v) if v in OPTIMIZERS else None)
        if ref is not None and ref.module == "optim":
            return ref.load()
    raise ValueError(f"{key}: unknown optimizer {v!r}; expected one of {list(OPTIMIZERS)}")


def policy_kwargs(v: Any, key: str = "policy_kwargs") -> dict:
    """``policy_kwargs`` as SB3 wants it, from a mapping or an rl-zoo3 ``"dict(...)"`` string."""
    if v is None:
        return {}
    if isinstance(v, str):
        v = parse(v, key)
    if not isinstance(v, dict):
        raise ValueError(f"{key}: expected a mapping or a 'dict(...)' string, got {v!r}")
    out = dict(v)
    if "activation_fn" in out:
        out["activation_fn"] = activation(out["activation_fn"], f"{key}.activation_fn")
    if "optimizer_class" in out:
        out["optimizer_class"] = optimizer(out["optimizer_class"], f"{key}.optimizer_class")
    for k, x in out.items():
        if isinstance(x, type) and k not in ("activation_fn", "optimizer_class"):
            raise ValueError(f"{key}.{k}: a class is only accepted for activation_fn and optimizer_class")
    return out
