package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/manifest"
	"github.com/ukhomeoffice/estate/internal/placement"
	"github.com/ukhomeoffice/estate/internal/placement/fromapi"
	"github.com/ukhomeoffice/estate/internal/printers"
)

// reader is the read half of a client.
type reader = client.Reader

func newPlanCommand(g *globalOptions) *cobra.Command {
	var (
		paths  []string
		output string
		at     string
	)
	cmd := &cobra.Command{
		Use:   "plan -f DIR",
		Short: "Place manifests offline with the placement engine and print the result",
		Long: `plan reads HostingSites and Workloads from manifests, validates them against
the CRD schemas and CEL rules as the API server would, and places every
workload with the same engine the placement operator uses. No server is
contacted and nothing is applied.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now, err := parseAt(at)
			if err != nil {
				return err
			}
			set, err := loadManifests(paths)
			if err != nil {
				return err
			}
			workloads, err := planWorkloads(set, now)
			if err != nil {
				return err
			}
			rows := placementRows(workloads)
			return printers.Print(cmd.OutOrStdout(), output, placementTable(rows), rows)
		},
	}
	cmd.Flags().StringArrayVarP(&paths, "filename", "f", nil, "File or directory of manifests, read recursively; repeat to combine several.")
	cmd.Flags().StringVar(&at, "at", "", "Place as of this date (YYYY-MM-DD) instead of today, to see which cloud-first exceptions will have expired.")
	_ = cmd.MarkFlagRequired("filename")
	addOutputFlag(cmd, &output)
	return cmd
}

func parseAt(at string) (time.Time, error) {
	if at == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.DateOnly, at)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --at %q: use the form YYYY-MM-DD", at)
	}
	return t, nil
}

// loadManifests reads and validates every file or directory given, as one
// set, so a new workload can be planned against an existing estate.
func loadManifests(paths []string) (*manifest.Set, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no manifests given: pass -f with a file or directory")
	}
	var objs []manifest.Object
	for _, path := range paths {
		loaded, err := manifest.Load(path)
		if err != nil {
			return nil, err
		}
		objs = append(objs, loaded...)
	}
	return manifest.Decode(objs)
}

// planWorkloads places every workload in the set and returns the workloads
// with the decisions written into their status, as the operator would.
func planWorkloads(set *manifest.Set, now time.Time) ([]estatev1.Workload, error) {
	inputs := make([]placement.Workload, 0, len(set.Workloads))
	for i := range set.Workloads {
		in, err := fromapi.Workload(&set.Workloads[i])
		if err != nil {
			return nil, fmt.Errorf("Workload %s: %w", fromapi.Key(&set.Workloads[i]), err)
		}
		inputs = append(inputs, in)
	}
	decisions := placement.PlaceAll(inputs, fromapi.Sites(set.Sites, set.Enclaves, ""), now)

	byKey := make(map[string]placement.Decision, len(decisions))
	for _, d := range decisions {
		byKey[d.Namespace+"/"+d.Name] = d
	}
	out := make([]estatev1.Workload, len(set.Workloads))
	for i := range set.Workloads {
		w := set.Workloads[i].DeepCopy()
		d := byKey[fromapi.Key(w)]
		w.Status.Placement = fromapi.Placement(d)
		applyPlannedCondition(w, d)
		out[i] = *w
	}
	return out, nil
}

func applyPlannedCondition(w *estatev1.Workload, d placement.Decision) {
	status := metav1.ConditionFalse
	if d.Site != "" {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&w.Status.Conditions, metav1.Condition{
		Type:    estatev1.ConditionPlaced,
		Status:  status,
		Reason:  string(d.Reason),
		Message: d.Message,
	})
}
