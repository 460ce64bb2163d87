// Package e2e holds liveswap's end-to-end tests. They run against real
// components started by package testbed — a systemd user manager, dockerd,
// liveswapd, nginx and redis — and are skipped (or, with
// LIVESWAP_E2E=require, failed) where those cannot run.
package e2e
