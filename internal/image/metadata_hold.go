package image

// HoldMetadata keeps the metadata store open until release is called, so
// that a burst of transactions (a build's cache lookups, a few per step)
// opens the file once instead of once each. Another process wanting the
// file waits meanwhile: hold it for bursts, not across long waits.
func (s *Service) HoldMetadata() (release func(), err error) {
	_, release, err = s.db.open()
	return release, err
}
