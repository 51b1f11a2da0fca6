package httpapi

import (
	"errors"
	"net/http"

	sfu "github.com/gosfu/sfu"
)

// Error types answered in "error_type".
const (
	ErrorMethodNotAllowed   = "METHOD-NOT-ALLOWED"
	ErrorInvalidTarget      = "INVALID-TARGET"
	ErrorInvalidJSON        = "INVALID-JSON"
	ErrorInvalidParameter   = "INVALID-PARAMETER"
	ErrorPayloadTooLarge    = "PAYLOAD-TOO-LARGE"
	ErrorChannelNotFound    = "CHANNEL-NOT-FOUND"
	ErrorConnectionNotFound = "CONNECTION-NOT-FOUND"
	ErrorFeatureDisabled    = "FEATURE-DISABLED"
	ErrorForwardNotFound    = "FORWARDING-NOT-FOUND"
	ErrorUnauthorized       = "UNAUTHORIZED"
	ErrorInternal           = "INTERNAL-ERROR"
)

// apiError is an answer from the error table.
type apiError struct {
	status    int
	errorType string
	message   string
}

func (e *apiError) Error() string { return e.errorType + ": " + e.message }

// errorBody is the JSON of an error answer.
type errorBody struct {
	ErrorType string `json:"error_type"`
	Message   string `json:"message"`
}

// classify maps an operation's error to the error table. The second
// result is false for an unexpected error (INTERNAL-ERROR), whose details
// are logged but not answered.
func classify(err error) (*apiError, bool) {
	var ae *apiError
	var pe *paramError
	var ie *sfu.InvalidArgumentError
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.As(err, &pe):
		return &apiError{http.StatusBadRequest, ErrorInvalidParameter, pe.Error()}, true
	case errors.As(err, &ie):
		msg := ie.Key + ": " + ie.Message
		if ie.Missing {
			msg = ie.Key + ": missing"
		}
		return &apiError{http.StatusBadRequest, ErrorInvalidParameter, msg}, true
	case errors.Is(err, sfu.ErrInvalidArgument):
		return &apiError{http.StatusBadRequest, ErrorInvalidParameter, err.Error()}, true
	case errors.Is(err, sfu.ErrChannelNotFound):
		return &apiError{http.StatusNotFound, ErrorChannelNotFound, err.Error()}, true
	case errors.Is(err, sfu.ErrConnectionNotFound):
		return &apiError{http.StatusNotFound, ErrorConnectionNotFound, err.Error()}, true
	case errors.Is(err, sfu.ErrForwardNotFound):
		return &apiError{http.StatusNotFound, ErrorForwardNotFound, err.Error()}, true
	case errors.Is(err, sfu.ErrFeatureDisabled):
		return &apiError{http.StatusBadRequest, ErrorFeatureDisabled, err.Error()}, true
	}
	return &apiError{http.StatusInternalServerError, ErrorInternal, "internal error"}, false
}
