"""De-identification: keyed pseudonyms, the Annex E attribute list, header values to scrub.

Ingestion works by allow-list: only a handful of technical attributes (modality, view,
photometric interpretation, bit depth, size, pixel spacing) ever leave a DICOM header. Every
identifier the pipeline needs (study, patient, image, source path) is replaced by a keyed hash,
so the same source always maps to the same pseudonym under one key, and nobody without the key
can test a guessed identifier against the outputs.

``ANNEX_E_KEYWORDS`` is the attribute list of the DICOM PS3.15 Annex E Basic Application Level
Confidentiality Profile (Table E.1-1), kept as data (Overlay/Curve data and comments are
repeating-group attributes, 50xx/60xx). Nothing on it is ever copied to an output; the tests
search every output for the values of these attributes in the input files.

The key lives in :mod:`cxralign.io.secret_key`, dates are shifted by :mod:`cxralign.io.date_shift`
and report text is scrubbed by :mod:`cxralign.io.phi_text`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Final

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

PSEUDONYM_HEX_CHARS: Final = 16
# Shorter header values ("F", "62") are too ambiguous to scrub from free text. Name parts are
# matched as whole words, so two letters ("Li", "Ng") are safe; identifiers need three.
MIN_NAME_PART_LENGTH: Final = 2
MIN_VALUE_LENGTH: Final = 3

ANNEX_E_KEYWORDS: Final[frozenset[str]] = frozenset(
    """
    AccessionNumber AcquisitionComments AcquisitionDate AcquisitionDateTime
    AcquisitionDeviceProcessingDescription AcquisitionTime ActualHumanPerformersSequence
    AdditionalPatientHistory AdmissionID AdmittingDate AdmittingDiagnosesCodeSequence
    AdmittingDiagnosesDescription AdmittingTime AffectedSOPInstanceUID Allergies
    AssertionDateTime AssignedLocation AuthorObserverSequence BranchOfService CassetteID
    ClinicalTrialCoordinatingCenterName ClinicalTrialProtocolEthicsCommitteeApprovalNumber
    ClinicalTrialProtocolEthicsCommitteeName ClinicalTrialProtocolID ClinicalTrialProtocolName
    ClinicalTrialSeriesDescription ClinicalTrialSeriesID ClinicalTrialSiteID
    ClinicalTrialSiteName ClinicalTrialSponsorName ClinicalTrialSubjectID
    ClinicalTrialSubjectReadingID ClinicalTrialTimePointDescription ClinicalTrialTimePointID
    CommentsOnThePerformedProcedureStep ConcatenationUID
    ConfidentialityConstraintOnPatientDataDescription ConsultingPhysicianIdentificationSequence
    ConsultingPhysicianName ContentCreatorIdentificationCodeSequence ContentCreatorName
    ContentDate ContentSequence ContentTime ContextGroupExtensionCreatorUID ContrastBolusAgent
    ContributionDateTime CountryOfResidence CurrentPatientLocation CurveData CurveDate
    CurveTime CustodialOrganizationSequence DataSetTrailingPadding DateOfLastCalibration
    DateOfSecondaryCapture DerivationDescription DetectorID DeviceDescription
    DeviceSerialNumber DeviceUID DigitalSignatureDateTime DigitalSignaturesSequence
    DimensionOrganizationUID DischargeDiagnosisDescription DistributionAddress DistributionName
    DoseReferenceUID EndAcquisitionDateTime EthnicGroup ExpectedCompletionDateTime
    FiducialUID FillerOrderNumberImagingServiceRequest FrameAcquisitionDateTime FrameComments
    FrameOfReferenceUID FrameReferenceDateTime GantryID GraphicAnnotationSequence
    HumanPerformerCodeSequence HumanPerformerName HumanPerformerOrganization
    IconImageSequence IdentifyingComments ImageComments ImagePresentationComments
    ImagingServiceRequestComments Impressions InstanceCoercionDateTime InstanceCreationDate
    InstanceCreationTime InstanceCreatorUID InstitutionAddress InstitutionCodeSequence
    InstitutionName InstitutionalDepartmentName InstitutionalDepartmentTypeCodeSequence
    InsurancePlanIdentification IntendedRecipientsOfResultsIdentificationSequence
    InterpretationApproverSequence InterpretationAuthor InterpretationDiagnosisDescription
    InterpretationIDIssuer InterpretationRecorder InterpretationText InterpretationTranscriber
    IrradiationEventUID IssuerOfAccessionNumberSequence IssuerOfAdmissionIDSequence
    IssuerOfPatientID IssuerOfServiceEpisodeIDSequence LabelText LastMenstrualDate
    MAC MediaStorageSOPInstanceUID MedicalAlerts MedicalRecordLocator MilitaryRank
    ModifiedAttributesSequence ModifiedImageDescription ModifyingDeviceID
    NameOfPhysiciansReadingStudy
    NamesOfIntendedRecipientsOfResults Occupation OperatorIdentificationSequence OperatorsName
    OrderCallbackPhoneNumber OrderCallbackTelecomInformation OrderEnteredBy
    OrderEntererLocation OriginalAttributesSequence OtherPatientIDs OtherPatientIDsSequence
    OtherPatientNames OverlayComments OverlayData OverlayDate OverlayTime
    ParticipantSequence PatientAddress PatientAge PatientBirthDate PatientBirthName
    PatientBirthTime PatientComments PatientID PatientInsurancePlanCodeSequence
    PatientMotherBirthName PatientName PatientPrimaryLanguageCodeSequence
    PatientReligiousPreference PatientSex PatientSexNeutered PatientSize PatientState
    PatientTelecomInformation PatientTelephoneNumbers PatientTransportArrangements
    PatientWeight PerformedLocation PerformedProcedureStepDescription
    PerformedProcedureStepEndDate PerformedProcedureStepEndDateTime
    PerformedProcedureStepEndTime PerformedProcedureStepID PerformedProcedureStepStartDate
    PerformedProcedureStepStartDateTime PerformedProcedureStepStartTime
    PerformedStationAETitle PerformedStationGeographicLocationCodeSequence
    PerformedStationName PerformedStationNameCodeSequence PerformingPhysicianIdentificationSequence
    PerformingPhysicianName PersonAddress PersonIdentificationCodeSequence PersonName
    PersonTelecomInformation PersonTelephoneNumbers PhysicianApprovingInterpretation
    PhysiciansOfRecord PhysiciansOfRecordIdentificationSequence
    PhysiciansReadingStudyIdentificationSequence PlacerOrderNumberImagingServiceRequest
    PlateID PreMedication PregnancyStatus ProcedureStepCancellationDateTime ProtocolName
    ReasonForStudy ReasonForTheImagingServiceRequest ReasonForTheRequestedProcedure
    ReasonForVisit ReferencedFrameOfReferenceUID
    ReferencedGeneralPurposeScheduledProcedureStepTransactionUID
    ReferencedImageSequence ReferencedPatientAliasSequence ReferencedPatientPhotoSequence
    ReferencedPatientSequence ReferencedPerformedProcedureStepSequence
    ReferencedSOPInstanceUID ReferencedSOPInstanceUIDInFile ReferencedStudySequence
    ReferringPhysicianAddress ReferringPhysicianIdentificationSequence ReferringPhysicianName
    ReferringPhysicianTelephoneNumbers RegionOfResidence RelatedFrameOfReferenceUID
    RequestAttributesSequence RequestedContrastAgent RequestedProcedureComments
    RequestedProcedureDescription RequestedProcedureID RequestedProcedureLocation
    RequestedSOPInstanceUID RequestingPhysician RequestingService ResponsibleOrganization
    ResponsiblePerson ResultsComments ResultsDistributionListSequence ResultsIDIssuer
    ReviewerName ScheduledHumanPerformersSequence ScheduledPatientInstitutionResidence
    ScheduledPerformingPhysicianIdentificationSequence ScheduledPerformingPhysicianName
    ScheduledProcedureStepEndDate ScheduledProcedureStepEndTime
    ScheduledProcedureStepDescription ScheduledProcedureStepID ScheduledProcedureStepLocation
    ScheduledProcedureStepStartDate ScheduledProcedureStepStartTime ScheduledStationAETitle
    ScheduledStationGeographicLocationCodeSequence ScheduledStationName
    ScheduledStationNameCodeSequence ScheduledStudyLocation ScheduledStudyLocationAETitle
    SeriesDate SeriesDescription SeriesInstanceUID SeriesTime ServiceEpisodeDescription
    ServiceEpisodeID SmokingStatus SOPInstanceUID SourceImageSequence
    SourceFrameOfReferenceUID SpecialNeeds StartAcquisitionDateTime StationName
    StorageMediaFileSetUID StudyArrivalDate StudyArrivalTime StudyComments
    StudyCompletionDate StudyCompletionTime StudyDate StudyDescription StudyID
    StudyInstanceUID StudyReadDate StudyReadTime StudyTime StudyVerifiedDate
    StudyVerifiedTime SynchronizationFrameOfReferenceUID TargetUID
    TemplateExtensionCreatorUID TemplateExtensionOrganizationUID TextComments TextString
    TimeOfLastCalibration TimeOfSecondaryCapture TimezoneOffsetFromUTC TopicAuthor
    TopicKeywords TopicSubject TopicTitle TransactionUID UID
    VerifyingObserverIdentificationCodeSequence
    VerifyingObserverName VerifyingObserverSequence VerifyingOrganization VisitComments
    """.split()
)

# The Annex E attributes that name or number a person, visit or place (person names are found by
# their VR): the subset worth scrubbing from free text.
REPORT_SCRUB_KEYWORDS: Final[frozenset[str]] = frozenset(
    """
    PatientID OtherPatientIDs IssuerOfPatientID MedicalRecordLocator AccessionNumber StudyID
    AdmissionID ServiceEpisodeID PatientAddress PatientTelephoneNumbers InstitutionName
    InstitutionAddress InstitutionalDepartmentName StationName DeviceSerialNumber
    ReferringPhysicianAddress ReferringPhysicianTelephoneNumbers
    PlacerOrderNumberImagingServiceRequest FillerOrderNumberImagingServiceRequest
    RequestedProcedureID ClinicalTrialSubjectID ClinicalTrialSubjectReadingID
    """.split()
)


def pseudonymize(kind: str, value: str, key: bytes) -> str:
    """HMAC-SHA256 of ``kind:value`` under ``key``, as ``PSEUDONYM_HEX_CHARS`` hex characters.

    ``kind`` ("study", "patient", "image", "path") separates the namespaces so that equal raw
    strings of different kinds never share a pseudonym.
    """
    message = f"{kind}:{value}".encode("utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]


def identifying_values(dataset: Dataset) -> set[str]:
    """Names and identifiers in a header (person names, ``REPORT_SCRUB_KEYWORDS``), recursively.

    These are what a report may repeat verbatim ("patient John Doe, MRN 12345"), so they are
    scrubbed from the study's report text (:mod:`cxralign.io.phi_text`). Descriptions and dates
    are not: "THORAX" as a study description is also a word the report legitimately uses. A
    person name also yields each of its parts, since prose writes "John Doe" for "DOE^JOHN".
    """
    found: set[str] = set()

    def visit(ds: Dataset) -> None:
        for element in ds:
            if element.VR == "SQ":
                for item in element.value or ():
                    visit(item)
            elif element.VR == "PN":
                for name in _strings(element.value):
                    found.add(name)
                    found.update(
                        part for part in re.split(r"[\^=\s]+", name)
                        if len(part.strip(".,")) >= MIN_NAME_PART_LENGTH
                    )
            elif element.keyword in REPORT_SCRUB_KEYWORDS:
                found.update(v for v in _strings(element.value) if len(v) >= MIN_VALUE_LENGTH)

    visit(dataset)
    return found


def _strings(value: object) -> Iterable[str]:
    values = value if isinstance(value, list | tuple | MultiValue) else [value]
    for item in values:
        if item is None or isinstance(item, bytes | bytearray):
            continue
        text = str(item).strip()
        if text:
            yield text
