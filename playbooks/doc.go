// Package playbooks holds ready upgrade plans for the common jobs — a dockerd
// patch upgrade, a liveswapd upgrade, enabling live restore before an
// upgrade — and, under ansible/, the playbook that rolls an upgrade across a
// fleet host by host. The plans are embedded so tools and tests can read
// them; each is a commented template to copy and fill in.
package playbooks

import "embed"

// Plans are the plan templates (*.yaml), by file name.
//
//go:embed *.yaml
var Plans embed.FS
