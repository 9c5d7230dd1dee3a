#!/usr/bin/env bash
# Installs the exec-driver adapters' dependencies from their package
# registries, pinned by the committed lockfiles:
#   kafkajs/                 npm ci                        -> kafkajs/node_modules
#   kafka-go/                go mod download + go build    -> kafka-go/bin/kafka-go-adapter
#   confluent-kafka-python/  pip install into a venv       -> confluent-kafka-python/.venv
#
# Idempotent, and fast when nothing changed (a marker file newer than the
# lockfile skips npm and pip; go build is incremental).
#
# Usage: adapters/install.sh [kafkajs|kafka-go|confluent-kafka-python ...]   (default: all three)
# Needs: node >= 18 with npm, go >= 1.23, python3 >= 3.8 with venv.
set -euo pipefail
cd "$(dirname "$0")"

up_to_date() { # marker, inputs...
  local marker=$1
  shift
  [[ -f $marker ]] || return 1
  for f in "$@"; do [[ $marker -nt $f ]] || return 1; done
}

install_kafkajs() {
  local marker=kafkajs/node_modules/.kh-installed
  if up_to_date "$marker" kafkajs/package.json kafkajs/package-lock.json; then
    echo "kafkajs: up to date"
    return
  fi
  echo "kafkajs: npm ci"
  (cd kafkajs && npm ci --no-audit --no-fund --loglevel=error)
  touch "$marker"
}

install_kafka_go() {
  echo "kafka-go: go build -> kafka-go/bin/kafka-go-adapter"
  (cd kafka-go && go mod download && go build -mod=readonly -o bin/kafka-go-adapter .)
}

install_confluent_kafka_python() {
  local venv=confluent-kafka-python/.venv
  local marker=$venv/.kh-installed
  if up_to_date "$marker" confluent-kafka-python/requirements.txt; then
    echo "confluent-kafka-python: up to date"
    return
  fi
  echo "confluent-kafka-python: pip install -r requirements.txt into $venv"
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r confluent-kafka-python/requirements.txt
  touch "$marker"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(kafkajs kafka-go confluent-kafka-python)
for t in "${targets[@]}"; do
  case $t in
    kafkajs) install_kafkajs ;;
    kafka-go) install_kafka_go ;;
    confluent-kafka-python) install_confluent_kafka_python ;;
    *) echo "unknown adapter: $t (kafkajs, kafka-go, confluent-kafka-python)" >&2; exit 2 ;;
  esac
done
