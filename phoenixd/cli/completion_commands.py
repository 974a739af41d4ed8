"""``phoenix completion bash|zsh|fish``: shell completion written from the parser itself."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import shtab

__all__ = ["SHELLS", "add_commands"]

Adder = Callable[..., argparse.ArgumentParser]
SHELLS = ("bash", "zsh", "fish")


def add_commands(commands: argparse._SubParsersAction,  # type: ignore[type-arg]
                 leaf: Adder, root: argparse.ArgumentParser) -> None:
    """Add ``completion``; its script is generated from ``root``, the whole command tree, so
    it names every command and flag there is and cannot drift from them."""
    p = leaf(commands, "completion", completion, "print a shell completion script",
             description="Print the completion script for a shell. Load it in the current "
             "shell, or install it where the shell looks for completions.",
             examples=["source <(phoenix completion bash)",
                       "phoenix completion zsh > \"${fpath[1]}/_phoenix\"",
                       "phoenix completion fish > ~/.config/fish/completions/phoenix.fish"],
             local=True)
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(root=root)


def completion(_client: None, a: argparse.Namespace) -> None:
    print(shtab.complete(a.root, shell=a.shell), end="")
