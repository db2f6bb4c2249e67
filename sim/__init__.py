"""Verification of the generated core on Icarus Verilog and Verilator (cocotb 2.x), against the emulator.

- :func:`fxsnn.sim.runner.verify`: generate, build (cached) and run the bench; returns the summaries.
- :mod:`fxsnn.sim.bench`: the cocotb test module (driver and monitors in the generated Verilog harness of
  :mod:`fxsnn.sim.wrapper`, the emulator as model, :mod:`fxsnn.sim.checker` as checker).
- :mod:`fxsnn.sim.simulators`: finding Verilator >= 5.036 and Icarus Verilog, with clear messages.
- ``fxsnn hdl verify`` (:mod:`fxsnn.sim.cli`). See docs/verification.md.

Submodules are imported on demand: importing :mod:`fxsnn.sim` does not import cocotb.
"""
