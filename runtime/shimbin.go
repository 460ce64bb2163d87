package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ShimName is the shim binary's file name; the daemon runs the one beside
// its own executable.
const ShimName = "liveswapd-shim"

// ShimBinaryEnv names a program run in place of the shim beside the
// daemon (`PROGRAM RUNDIR`); it must end by executing liveswapd-shim with
// its arguments. Tests use it to hold a shim at a chosen point. It is
// trusted as the daemon's own command line is: it must be a root-owned
// executable file that neither group nor others can write.
const ShimBinaryEnv = "LIVESWAPD_SHIM_BINARY"

// defaultShim is $LIVESWAPD_SHIM_BINARY, checked now, or else the shim
// beside the daemon's executable (beside true), checked at each start:
// the daemon runs without one, it only cannot start containers.
func defaultShim(getenv func(string) string) (path string, beside bool, err error) {
	if p := getenv(ShimBinaryEnv); p != "" {
		if err := trustedExecutable(p); err != nil {
			return "", false, fmt.Errorf("%s=%s: %w", ShimBinaryEnv, p, err)
		}
		return p, false, nil
	}
	// The file the daemon runs from, symlinks resolved (/proc/self/exe).
	exe, err := os.Executable()
	if err != nil {
		return "", false, fmt.Errorf("locating liveswapd's own executable to find %s beside it: %w", ShimName, err)
	}
	return filepath.Join(filepath.Dir(exe), ShimName), true, nil
}

// shimBinary is the shim a new container starts with. A file replaced
// since the daemon started is used as it is now: running shims keep the
// file they were started from, new containers get the new one.
func (d *Daemon) shimBinary() (string, error) {
	p := d.opts.ShimBinary
	if !d.shimBeside {
		return p, nil
	}
	if err := trustedExecutable(p); err != nil {
		return "", fmt.Errorf("liveswapd's shim %s: %v; install %s beside liveswapd (make install does; copy bin/%s next to the liveswapd binary, owned by root, mode 0755)", p, err, ShimName, ShimName)
	}
	return p, nil
}

// trustedExecutable refuses a program that someone other than root could
// have changed.
func trustedExecutable(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("not an absolute path; name the program by its full path")
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file (symlinks are refused); name the file itself")
	case !ok || int(st.Uid) != os.Geteuid() && st.Uid != 0:
		return fmt.Errorf("owned by uid %d; it must belong to root: chown root %s", st.Uid, p)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("mode %v lets group or others write it: chmod go-w %s", fi.Mode().Perm(), p)
	case fi.Mode().Perm()&0o100 == 0:
		return fmt.Errorf("mode %v is not executable by its owner: chmod u+x %s", fi.Mode().Perm(), p)
	}
	return nil
}
