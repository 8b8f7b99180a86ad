#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, when it builds the autograder's image:
# Python's venv module from apt, then the course's own set-up (`./run setup`: .venv from
# requirements.txt + constraints.txt, torch from the index this zip was built for).
#   SKIP_APT=1   leave the system packages alone (a machine that has python3 -m venv already)
set -euo pipefail
cd "$(dirname "$0")"
if [ "${SKIP_APT:-0}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip
fi
TORCH_INDEX="${TORCH_INDEX-@TORCH_INDEX@}" ./run setup
