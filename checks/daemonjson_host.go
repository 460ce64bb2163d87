package checks

import (
	"context"

	"github.com/liveswap/liveswap/checks/daemonjson"
)

// checkDaemonJSONHost judges what the daemon.json names on this host —
// TLS files, the userns-remap user and its subordinate ranges, the socket
// group, plugins, runtimes' and helpers' paths, listeners, interfaces,
// SELinux, the storage driver against the backing file system. These
// findings are host-dependent: the same file can start elsewhere, so they
// are a check of their own beside daemon-json.valid (the file's rules).
func checkDaemonJSONHost(ctx context.Context, env *Env) Result {
	v, res := dockerFile(ctx, env)
	if v == nil {
		return res
	}
	argv, _ := env.execStartArgv(ctx)
	version, _ := env.RulesVersion(ctx)
	fs := daemonjson.CheckHost(v.data, daemonjson.Options{File: v.File, DockerVersion: version, ExecStart: argv}, daemonjson.LocalHost{})
	hv := &Validation{File: v.File, Note: "host-dependent: judged against this host's files, users, plugins and file systems"}
	return hv.summarize(fs, v.File+": what it names exists on this host (TLS files, users, groups, plugins, paths, file systems)")
}
