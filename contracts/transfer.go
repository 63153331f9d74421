package contracts

import "time"

// Transfer is a worker-transfer record: the origin province tells the
// destination who is coming, trained in what, organized by whom, to which
// employer. It travels origin -> destination.
type Transfer struct {
	Header
	Worker    Worker    `json:"worker"`
	Training  *Training `json:"training,omitempty"`
	Organizer Organizer `json:"organizer"`
	Placement Placement `json:"placement"`
	// LaborBrand is the regional labor brand (劳务品牌) the worker is exported
	// under, such as "川妹子家政"; empty when none.
	LaborBrand string           `json:"labor_brand,omitempty"`
	Events     []LifecycleEvent `json:"events"`
}

// Sex is a worker's sex as encoded in the ID number's sequence digit.
type Sex string

// The sexes GB 11643 encodes.
const (
	SexMale   Sex = "male"
	SexFemale Sex = "female"
)

// Worker is the migrant worker a record is about. Every field is personal data.
type Worker struct {
	Name string `json:"name"`
	// IDNumber is the 18-character resident ID number (GB 11643).
	IDNumber  string `json:"id_number"`
	Sex       Sex    `json:"sex"`
	BirthDate Date   `json:"birth_date"`
	// Phone is an 11-digit mobile number.
	Phone string `json:"phone,omitempty"`
	// HouseholdDivision is the 6-digit county of household registration (户籍).
	HouseholdDivision string `json:"household_division"`
}

// Training is the vocational training the worker received before departure.
type Training struct {
	Institution string `json:"institution"`
	// InstitutionCode is the institution's unified social credit code.
	InstitutionCode string       `json:"institution_code,omitempty"`
	Programme       string       `json:"programme"`
	Hours           int          `json:"hours"`
	Certificate     *Certificate `json:"certificate,omitempty"`
	Subsidy         *Subsidy     `json:"subsidy,omitempty"`
}

// Certificate is a vocational skill certificate (职业资格证书 / 职业技能等级证书).
type Certificate struct {
	Number string `json:"number"`
	// SkillLevel is 1 (senior technician) to 5 (entry level), per the national scheme.
	SkillLevel int `json:"skill_level"`
}

// Subsidy is a training-subsidy claim; it is paid only once employment is confirmed.
type Subsidy struct {
	VoucherNumber string `json:"voucher_number,omitempty"`
	AmountFen     int64  `json:"amount_fen"`
}

// OrganizerKind says what sort of body organized the worker's departure.
type OrganizerKind string

// The organizers of labor export the policy names.
const (
	OrganizerPublicEmploymentService OrganizerKind = "public-employment-service"
	OrganizerLaborCompany            OrganizerKind = "labor-company"
	OrganizerAgency                  OrganizerKind = "agency"
	OrganizerTrainingInstitution     OrganizerKind = "training-institution"
	OrganizerVillageOrganization     OrganizerKind = "village-organization"
	OrganizerBroker                  OrganizerKind = "broker"
	// OrganizerSelf marks a worker who left on their own (自发外出).
	OrganizerSelf OrganizerKind = "self"
)

// Organizer is the body that organized the worker's departure.
type Organizer struct {
	Kind OrganizerKind `json:"kind"`
	Name string        `json:"name,omitempty"`
	// CreditCode is the organizer's unified social credit code; brokers who are
	// natural persons and self-organized workers have none.
	CreditCode string `json:"credit_code,omitempty"`
}

// Placement is the job the worker goes to.
type Placement struct {
	EmployerName string `json:"employer_name"`
	// EmployerCreditCode is the employer's unified social credit code.
	EmployerCreditCode string `json:"employer_credit_code"`
	// Industry is a GB/T 4754-2017 code: a section letter, then digits ("C1810").
	Industry string `json:"industry"`
	Job      string `json:"job"`
	// Division is the 6-digit code of the workplace, inside the destination province.
	Division       string `json:"division"`
	ContractStart  Date   `json:"contract_start"`
	ContractEnd    *Date  `json:"contract_end,omitempty"`
	MonthlyWageFen int64  `json:"monthly_wage_fen"`
}

// EventKind is a step in a worker's transfer lifecycle.
type EventKind string

// The lifecycle steps, in the order they normally happen.
const (
	EventRegistered EventKind = "registered"
	EventDeparted   EventKind = "departed"
	EventArrived    EventKind = "arrived"
	EventEmployed   EventKind = "employed"
	EventLeft       EventKind = "left"
	EventReturned   EventKind = "returned"
)

// LifecycleEvent records when a step of the transfer happened.
type LifecycleEvent struct {
	Kind EventKind `json:"kind"`
	At   time.Time `json:"at"`
}
