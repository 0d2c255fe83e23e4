package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ukhomeoffice/estate/internal/manifest"
)

// fieldManager owns every field estatectl applies.
const fieldManager = "estatectl"

func newApplyCommand(g *globalOptions) *cobra.Command {
	var paths []string
	cmd := &cobra.Command{
		Use:   "apply -f DIR",
		Short: "Validate manifests offline, then server-side apply them all or none",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := loadManifests(paths)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return applySet(cmd.Context(), c, set, cmd.OutOrStdout(), logr.FromContextOrDiscard(cmd.Context()))
		},
	}
	cmd.Flags().StringArrayVarP(&paths, "filename", "f", nil, "File or directory of manifests, read recursively; repeat to combine several.")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// applySet applies the objects in order with server-side apply. Namespaces
// go first. Every other object is then applied as a server-side dry run, and
// only when all of them pass is anything written. So a rejected object never
// leaves the rest half-applied.
func applySet(ctx context.Context, c client.Client, set *manifest.Set, out io.Writer, log logr.Logger) error {
	start := time.Now()
	var rest []manifest.Object
	for _, obj := range set.Objects {
		if obj.Object.GetKind() != "Namespace" {
			rest = append(rest, obj)
			continue
		}
		if err := applyObject(ctx, c, obj, false); err != nil {
			return err
		}
	}
	for _, obj := range rest {
		if err := applyObject(ctx, c, obj, true); err != nil {
			return fmt.Errorf("%w; nothing else was applied", err)
		}
	}
	for _, obj := range rest {
		if err := applyObject(ctx, c, obj, false); err != nil {
			return err
		}
	}
	if out != nil {
		for _, obj := range set.Objects {
			u := obj.Object
			fmt.Fprintf(out, "%s/%s serverside-applied\n", strings.ToLower(u.GetKind()), objectName(u.GetNamespace(), u.GetName()))
		}
	}
	log.Info("Applied manifests", "objects", len(set.Objects), "elapsed", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func applyObject(ctx context.Context, c client.Client, obj manifest.Object, dryRun bool) error {
	u := obj.Object.DeepCopy()
	u.SetResourceVersion("")
	opts := []client.ApplyOption{client.FieldOwner(fieldManager), client.ForceOwnership}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), opts...); err != nil {
		return fmt.Errorf("%s: %s %s: %w", obj.Source, u.GetKind(), objectName(u.GetNamespace(), u.GetName()), err)
	}
	return nil
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
