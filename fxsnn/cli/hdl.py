"""``fxsnn hdl ...``: the hardware command group (``generate``; ``verify`` is added by fxsnn.sim)."""

from __future__ import annotations

__all__ = ["register"]


def register(subparsers) -> None:
    parser = subparsers.add_parser("hdl", help="generate (and verify) the FPGA spiking core",
                                   description="Hardware: generate the Verilog core for a model, or "
                                   "verify it in an HDL simulator.")
    group = parser.add_subparsers(dest="hdl_command", metavar="SUBCOMMAND", required=True)
    from ..hdl.cli import register as register_generate

    register_generate(group)
    from ..sim.cli import register as register_verify

    register_verify(group)
