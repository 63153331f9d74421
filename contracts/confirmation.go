package contracts

// Confirmation is the destination's answer to a transfer: did the worker take up
// the job, since when, with whom, and are they still there. The origin pays
// training and job-referral subsidies only against a positive confirmation.
// It travels destination -> origin.
type Confirmation struct {
	Header
	// TransferID is the origin's record ID of the transfer being answered.
	TransferID string `json:"transfer_id"`
	// WorkerIDNumber identifies the worker, so the origin can match without
	// trusting the transfer ID alone.
	WorkerIDNumber string `json:"worker_id_number"`
	Employed       bool   `json:"employed"`
	// Since is the first day of employment; required when Employed.
	Since              *Date  `json:"since,omitempty"`
	EmployerName       string `json:"employer_name,omitempty"`
	EmployerCreditCode string `json:"employer_credit_code,omitempty"`
	// MonthsEmployed is how long the worker has stayed, for "still employed at N
	// months" checks that subsidies tied to stable employment need.
	MonthsEmployed int `json:"months_employed"`
	// Reason explains a negative confirmation (never arrived, left, ...).
	Reason string `json:"reason,omitempty"`
	// ConfirmedOn is the day the destination checked.
	ConfirmedOn Date `json:"confirmed_on"`
}
