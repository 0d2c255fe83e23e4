package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/audit"
	"github.com/ukhomeoffice/estate/internal/printers"
)

func newDevRunCommand(g *globalOptions) *cobra.Command {
	var (
		paths   []string
		output  string
		timeout time.Duration
		keep    bool
	)
	cmd := &cobra.Command{
		Use:   "run -f DIR",
		Short: "Start a throwaway local control plane, apply manifests, wait for every placement, print them and stop",
		Long: `run is the one-shot form of dev up: it validates the manifests, starts a
local control plane in a fresh state directory, applies them, waits with
progress until every workload has a placement decision, prints the placement
table and an audit summary, and stops everything it started.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := ctrl.Log.WithName("dev")

			// Validate before starting anything, so bad input costs nothing.
			set, err := loadManifests(paths)
			if err != nil {
				return err
			}
			log.Info("Validated manifests", "paths", paths, "sites", len(set.Sites), "workloads", len(set.Workloads))

			runDir, err := os.MkdirTemp("", "estate-run-")
			if err != nil {
				return err
			}
			stateDir := filepath.Join(runDir, "control-plane")
			operatorLog, closeLog, err := fileLogger(filepath.Join(runDir, "operator.log"))
			if err != nil {
				return err
			}
			defer closeLog()

			session, err := startDev(ctx, g.binDir, stateDir, log, operatorLog)
			if err != nil {
				return err
			}
			runErr := func() error {
				if err := applySet(ctx, session.client, set, nil, log); err != nil {
					return err
				}
				waitCtx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				workloads, err := waitForPlacements(waitCtx, session.client, len(set.Workloads), log)
				if err != nil {
					return err
				}
				if len(set.Networks) > 0 {
					if err := waitForCondition(waitCtx, session.client, estatev1.ConditionNetworkReady, "network configurations", placedOnly, log); err != nil {
						return err
					}
				}
				if err := waitForReasons(waitCtx, session.client, estatev1.ConditionProvisioned, "provisioning on sites", []string{estatev1.ReasonApplied, estatev1.ReasonPlanOnly}, log); err != nil {
					return err
				}
				if len(set.Enclaves) > 0 {
					if err := waitForEnclaves(waitCtx, session.client, log); err != nil {
						return err
					}
				}
				workloads, err = listWorkloads(ctx, session.client)
				if err != nil {
					return err
				}
				sites, err := listSites(ctx, session.client)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				rows := placementRows(workloads)
				if err := printers.Print(out, output, placementTable(rows), rows); err != nil {
					return err
				}
				if output != "table" && output != "wide" {
					return nil
				}
				fmt.Fprintln(out)
				if err := printReport(out, "table", audit.Placement(workloads, sites)); err != nil {
					return err
				}
				fmt.Fprintln(out)
				if err := printProvisioning(out, workloads, sites); err != nil {
					return err
				}
				if len(set.Networks) == 0 {
					return nil
				}
				report, err := liveNetworkReport(ctx, session.client)
				if err != nil {
					return err
				}
				fmt.Fprintln(out)
				if err := printNetworkReport(out, output, report); err != nil {
					return err
				}
				if len(set.Enclaves) == 0 {
					return nil
				}
				summaries, err := enclaveSummaries(ctx, session.client, nil)
				if err != nil {
					return err
				}
				fmt.Fprintln(out)
				return writeEnclaves(out, summaries)
			}()
			stopErr := session.stop(keep)
			closeLog()
			if keep {
				log.Info("Kept the run's files", "dir", runDir)
			} else if stopErr == nil {
				stopErr = os.RemoveAll(runDir)
			}
			return errors.Join(runErr, stopErr)
		},
	}
	cmd.Flags().StringArrayVarP(&paths, "filename", "f", nil, "File or directory of manifests, read recursively; repeat to combine several.")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "Maximum wait for every workload to get a placement decision.")
	cmd.Flags().BoolVar(&keep, "keep", false, "Keep the state directory (etcd data, logs) after stopping.")
	_ = cmd.MarkFlagRequired("filename")
	addOutputFlag(cmd, &output)
	return cmd
}

// waitForPlacements polls until every one of want workloads has a Placed
// condition for its current generation, logging progress as it grows.
func waitForPlacements(ctx context.Context, c client.Reader, want int, log logr.Logger) ([]estatev1.Workload, error) {
	last := -1
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		workloads, err := listWorkloads(ctx, c)
		if err != nil {
			return nil, err
		}
		decided := 0
		for i := range workloads {
			cond := meta.FindStatusCondition(workloads[i].Status.Conditions, estatev1.ConditionPlaced)
			if cond != nil && cond.ObservedGeneration == workloads[i].Generation {
				decided++
			}
		}
		if decided != last {
			log.Info("Waiting for placement decisions", "decided", decided, "workloads", want)
			last = decided
		}
		if decided >= want && len(workloads) >= want {
			return workloads, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("timed out with %d of %d workloads placed: %w; rerun with --keep and read operator.log in the directory it names", decided, want, ctx.Err())
		case <-ticker.C:
		}
	}
}

// placedOnly selects workloads that have a site.
func placedOnly(w *estatev1.Workload) bool {
	return w.Status.Placement != nil && w.Status.Placement.Site != ""
}

// waitForCondition polls until every workload that include selects has the
// condition for its current generation, whatever its status, logging
// progress as it grows.
// With reasons given, only a condition with one of them counts as done.
func waitForCondition(ctx context.Context, c client.Reader, condition, what string, include func(*estatev1.Workload) bool, log logr.Logger, reasons ...string) error {
	last := -1
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		workloads, err := listWorkloads(ctx, c)
		if err != nil {
			return err
		}
		want, done := 0, 0
		for i := range workloads {
			w := &workloads[i]
			if !include(w) {
				continue
			}
			want++
			cond := meta.FindStatusCondition(w.Status.Conditions, condition)
			if cond != nil && cond.ObservedGeneration == w.Generation && (len(reasons) == 0 || slices.Contains(reasons, cond.Reason)) {
				done++
			}
		}
		if done != last {
			log.Info("Waiting for "+what, "done", done, "workloads", want)
			last = done
		}
		if done == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out with %d of %d %s done: %w; rerun with --keep and read operator.log in the directory it names", done, want, what, ctx.Err())
		case <-ticker.C:
		}
	}
}

// waitForEnclaves polls until every Enclave is Ready, logging which
// controls still fail.
func waitForEnclaves(ctx context.Context, c client.Reader, log logr.Logger) error {
	last := ""
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		list := &estatev1.EnclaveList{}
		if err := c.List(ctx, list); err != nil {
			return fmt.Errorf("listing enclaves: %w", err)
		}
		var pending []string
		for i := range list.Items {
			e := &list.Items[i]
			ready := meta.FindStatusCondition(e.Status.Conditions, estatev1.ConditionReady)
			if ready == nil || ready.Status != "True" || ready.ObservedGeneration != e.Generation {
				state := "not verified yet"
				if ready != nil {
					state = "not Ready yet, last check: " + ready.Reason
				}
				pending = append(pending, e.Name+" ("+state+")")
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if summary := strings.Join(pending, ", "); summary != last {
			log.Info("Waiting for the enclave controls to be verified", "pending", summary)
			last = summary
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for enclave(s) %s to be Ready: %w; run estatectl enclave show for each control", strings.Join(pending, ", "), ctx.Err())
		case <-ticker.C:
		}
	}
}

// waitForReasons polls until every placed workload's condition has one of
// the reasons, logging progress as it grows.
func waitForReasons(ctx context.Context, c client.Reader, condition, what string, reasons []string, log logr.Logger) error {
	return waitForCondition(ctx, c, condition, what, placedOnly, log, reasons...)
}

// fileLogger sends the operators' logs to a file, so the run's own output
// stays readable.
func fileLogger(path string) (logr.Logger, func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return logr.Discard(), func() {}, err
	}
	return newFileLogger(f), func() { _ = f.Close() }, nil
}
