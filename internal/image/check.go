package image

import (
	"context"
	"fmt"

	"github.com/gantry-dev/gantry/internal/store"
)

// Check verifies the image side of the data root: the metadata's own
// references, every blob against its digest, and that each recorded image
// has its config and each recorded layer is unpacked. Layers unpacked but
// not recorded (a pull stopped before its end) are not a problem: the next
// pull uses them. With repair, what is broken is removed so that a pull can
// bring it back. Returns one line per problem.
func (s *Service) Check(ctx context.Context, repair bool) ([]string, error) {
	problems, err := s.db.Check(ctx, repair)
	if err != nil {
		return nil, err
	}
	blobs, err := s.content.Check(ctx, repair)
	if err != nil {
		return nil, err
	}
	problems = append(problems, blobs...)
	var broken []string
	err = s.db.View(ctx, func(tx *store.Tx) error {
		images, err := tx.Images()
		if err != nil {
			return err
		}
		for _, img := range images {
			if _, err := s.content.Info(ctx, img.ID); err != nil {
				problems = append(problems, fmt.Sprintf("image %s: config blob is missing", img.ID))
				broken = append(broken, img.ID.String())
			}
		}
		layers, err := tx.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			if !s.snaps.Exists(l.ChainID) {
				problems = append(problems, fmt.Sprintf("layer %s is recorded but not unpacked", l.ChainID))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if repair {
		for _, id := range broken {
			if _, err := s.Remove(ctx, id, true, nil); err != nil {
				return problems, err
			}
		}
	}
	return problems, nil
}
