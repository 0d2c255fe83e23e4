// Command estatectl is the estate CLI. It runs the local control plane,
// places manifests offline, explains placement decisions and runs
// auditors' queries.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
