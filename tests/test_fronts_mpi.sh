#!/usr/bin/env bash
# test_fronts_mpi.sh — test_fronts.sh in its MPI mode (ds_add_script_test passes no arguments).
exec bash "$(dirname "$0")/test_fronts.sh" mpi
