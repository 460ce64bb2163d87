package daemonjson

import (
	"fmt"
	"strings"
)

// storageDrivers are the graph drivers each release family's Debian build
// can initialise (whether the backing file system fits is a host check):
// Debian builds 20.10 without aufs and devicemapper; 23 and newer removed
// aufs, devicemapper and overlay.
func (c *checker) storageDrivers() map[string]bool {
	if c.modern() {
		return map[string]bool{"overlay2": true, "vfs": true, "btrfs": true, "zfs": true}
	}
	return map[string]bool{"overlay2": true, "overlay": true, "vfs": true, "btrfs": true, "zfs": true}
}

// storageOpts are the options each driver accepts, per release family.
func (c *checker) storageOpts(driver string) (known map[string]bool, judged bool) {
	switch driver {
	case "overlay2":
		if c.modern() {
			return map[string]bool{"overlay2.size": true}, true
		}
		return map[string]bool{"overlay2.size": true, "overlay2.override_kernel_check": true}, true
	case "vfs":
		return map[string]bool{"size": true, "vfs.xattrs": true}, true
	}
	return nil, false
}

// StorageDriver is the driver dockerd uses: the file's or the flag's, else
// overlay2 (its first choice on ext4 and xfs).
func (c *checker) storageDriver() (string, int) {
	if d, off, ok := c.str("storage-driver"); ok && d != "" {
		return d, off
	}
	return "overlay2", -1
}

func (c *checker) checkStorage() {
	driver, off := c.storageDriver()
	if !c.storageDrivers()[driver] {
		msg := fmt.Sprintf("storage driver %q is not supported by dockerd %s (error initializing graphdriver: driver not supported)", driver, c.rs.v)
		switch {
		case c.modern() && (driver == "aufs" || driver == "devicemapper" || driver == "overlay"):
			msg = fmt.Sprintf("the %s storage-driver has been deprecated and removed in dockerd 23; dockerd %s fails to initialise it", driver, c.rs.v)
		case driver == "devicemapper" || driver == "aufs":
			msg += "; Debian builds dockerd 20.10 without it"
		}
		c.fail("storage-driver", off, msg, `use "overlay2" (migrate images first: docker save, switch, docker load), or remove the key`)
		return
	}
	known, judged := c.storageOpts(driver)
	for _, n := range c.strings("storage-opts") {
		k, _, ok := strings.Cut(n.str, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		switch {
		case !ok:
			c.fail("storage-opts", n.off, fmt.Sprintf("unable to parse key/value option: %s", n.str), `write "option=value", e.g. "overlay2.size=20G"`)
		case judged && !known[k]:
			remedy := "remove the option"
			if k == "overlay2.override_kernel_check" {
				remedy = "remove the option: dockerd 23 and newer no longer know it (it was a no-op since 18.09)"
			}
			c.fail("storage-opts", n.off, fmt.Sprintf("%s: unknown option %s (dockerd %s fails to initialise the storage driver)", driver, k, c.rs.v), remedy)
		}
	}
}
