#!/usr/bin/env bash
# Session 8, call 5 (the final code, with the probe built trusted): session 7's part A as it is
# (cold tuning of the mega and behemoth steps, then `bench kernels` at their step shapes and 4096
# with cuBLAS beside each row and the share of the measured FMA peak), `auto` only.
# Run after `source .gl/enter.sh`; writes $OUT.
MM=auto bash results/h200/s7/session7.sh A $OUT/A
