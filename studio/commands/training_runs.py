"""What the `studio train` commands share around their loops: one option per field of a
trainer's config dataclass, the resume options, and checking the run folder and the
weights file before hours of training rather than after."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from studio.errors import StudioError

Config = TypeVar("Config")


GIVEN = "given_options"  # the namespace's set of config fields given on the command line


class _Given(argparse.Action):
    """Stores an option's value and notes that the command line gave it, so a recipe
    (``config_from_args``'s ``recipe``) fills only the fields nobody chose."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values)
        _note_given(namespace, self.dest)


class _GivenFlag(argparse.BooleanOptionalAction):
    """``--flag`` / ``--no-flag``, noted as given like :class:`_Given`."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        super().__call__(parser, namespace, values, option_string)
        _note_given(namespace, self.dest)


def _note_given(namespace: argparse.Namespace, dest: str) -> None:
    vars(namespace).setdefault(GIVEN, set()).add(dest)


def add_config_options(p: argparse.ArgumentParser, config_type: type,
                       help_texts: Mapping[str, str],
                       choices: Mapping[str, tuple[str, ...]] | None = None) -> None:
    """One option per field of the dataclass ``config_type`` (``--field-name``), typed and
    defaulted by a default instance's value; a boolean is an on/off pair
    (``--flag`` / ``--no-flag``). A field without a help text is described by its name."""
    choices = choices or {}
    defaults = config_type()
    for f in fields(config_type):
        flag = f"--{f.name.replace('_', '-')}"
        value = getattr(defaults, f.name)
        text = help_texts.get(f.name, f.name.replace("_", " "))
        if isinstance(value, bool):
            shown = flag if value else f"--no-{flag[2:]}"
            p.add_argument(flag, action=_GivenFlag, default=value,
                           help=f"{text} (default: {shown})")
            continue
        p.add_argument(flag, action=_Given, type=type(value), default=value,
                       choices=choices.get(f.name),
                       metavar=None if f.name in choices else
                       "NAME" if isinstance(value, str) else "N",
                       help=f"{text} (default: %(default)s)")


def config_from_args(config_type: type[Config], args: argparse.Namespace,
                     recipe: Mapping[str, Any] | None = None) -> Config:
    """The config dataclass from the parsed options, ``recipe``'s values standing in for
    the fields the command line did not give; its own checks' ValueError becomes one
    clear line (exit code 2)."""
    given = getattr(args, GIVEN, set())
    values = {f.name: getattr(args, f.name) for f in fields(config_type)}
    values |= {k: v for k, v in (recipe or {}).items() if k not in given}
    try:
        return config_type(**values)
    except ValueError as err:
        raise StudioError(str(err)) from err


def add_run_options(p: argparse.ArgumentParser) -> None:
    """--stop-after and --no-progress."""
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="stop (with a checkpoint) after N steps of this call")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_training(train: Callable[..., Any], config: object, args: argparse.Namespace,
                 label: str = "validation") -> int:
    """Check ``args.run_dir`` and ``args.out`` (a .pt file), run ``train`` (resuming from
    the run folder's checkpoint) and print the last validation figures."""
    from studio.io.output import check_output_file, check_output_folder

    check_output_folder(args.run_dir, "--run-dir")
    if args.out is not None:
        check_output_file(args.out, (".pt",), "--out", make_folders=True)
    state = train(config, args.run_dir, args.out, progress=not args.no_progress,
                  stop_after=args.stop_after)
    if state.history:
        print(f"step {state.step}: {label} {json.dumps(state.history[-1]['val'])}")
    return 0
