package image

// Progress is one step of a pull or push, in the terms Docker prints: ID is
// the short layer ID ("" for the image as a whole), Status "Pulling fs
// layer", "Downloading", "Extracting", "Pull complete", "Already exists",
// "Pushing", "Layer already exists", "Pushed", ...
type Progress struct {
	ID      string
	Status  string
	Current int64
	Total   int64
}

// ProgressFunc receives progress; it may be called from several goroutines.
type ProgressFunc func(Progress)

func (f ProgressFunc) send(p Progress) {
	if f != nil {
		f(p)
	}
}

// shortID is the 12-hex-digit form Docker shows for layers and images.
func shortID(d interface{ Encoded() string }) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}
