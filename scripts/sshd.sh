# shellcheck shell=bash
# Sourced by test.sh: a throw-away OpenSSH server on a loopback port for the terminal tests,
# with a throw-away user who can log in by key or password. Everything goes in stop_test_sshd.
# Exports INSECTID_TEST_SSH_{PORT,USER,PASSWORD,KEY,FINGERPRINT}.

TEST_SSHD_DIR=""
TEST_SSH_USER="insectid-term-$$"

start_test_sshd() {
  TEST_SSHD_DIR=$(mktemp -d /tmp/insectid-sshd.XXXXXX)
  chmod 755 "$TEST_SSHD_DIR"
  local port=2222
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  ssh-keygen -q -t ed25519 -N '' -f "$TEST_SSHD_DIR/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$TEST_SSHD_DIR/user_key"
  local password
  password="term-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  as_root useradd --create-home --home-dir "$TEST_SSHD_DIR/home" --shell /bin/bash "$TEST_SSH_USER"
  echo "$TEST_SSH_USER:$password" | as_root chpasswd
  install -m 644 "$TEST_SSHD_DIR/user_key.pub" "$TEST_SSHD_DIR/authorized_keys"
  as_root mkdir -p /run/sshd
  cat >"$TEST_SSHD_DIR/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $TEST_SSHD_DIR/host_key
PidFile $TEST_SSHD_DIR/sshd.pid
AuthorizedKeysFile $TEST_SSHD_DIR/authorized_keys
AllowUsers $TEST_SSH_USER
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
CONF
  as_root /usr/sbin/sshd -f "$TEST_SSHD_DIR/sshd_config" -E "$TEST_SSHD_DIR/sshd.log"
  for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || {
    cat "$TEST_SSHD_DIR/sshd.log" >&2
    echo "the test sshd did not listen on port $port in 5 s" >&2
    return 1
  }
  export INSECTID_TEST_SSH_PORT="$port" INSECTID_TEST_SSH_USER="$TEST_SSH_USER" INSECTID_TEST_SSH_PASSWORD="$password"
  export INSECTID_TEST_SSH_KEY="$TEST_SSHD_DIR/user_key"
  INSECTID_TEST_SSH_FINGERPRINT=$(ssh-keygen -lf "$TEST_SSHD_DIR/host_key.pub" | awk '{print $2}')
  export INSECTID_TEST_SSH_FINGERPRINT
  log "OpenSSH test server on 127.0.0.1:$port (user $TEST_SSH_USER)"
}

stop_test_sshd() {
  [ -n "$TEST_SSHD_DIR" ] || return 0
  # Runs from the exit trap under `set -e`: nothing here may fail the suite.
  if [ -f "$TEST_SSHD_DIR/sshd.pid" ]; then as_root kill "$(cat "$TEST_SSHD_DIR/sshd.pid")" 2>/dev/null || true; fi
  as_root pkill -u "$TEST_SSH_USER" 2>/dev/null || true
  as_root userdel --remove "$TEST_SSH_USER" 2>/dev/null || true
  rm -rf "$TEST_SSHD_DIR" || true
  TEST_SSHD_DIR=""
}
