package container

import "errors"

func errdefsIs(err, class error) bool { return errors.Is(err, class) }
