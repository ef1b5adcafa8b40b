//! The console's words in English and German. One macro line per text with both languages,
//! so a text missing in one of them does not compile; templates read them as `t.name`.

macro_rules! texts {
    ($($key:ident: $en:expr, $de:expr;)*) => {
        /// Every text of the console in one language.
        #[derive(serde::Serialize)]
        pub struct Texts { $(pub $key: &'static str,)* }
        pub static EN: Texts = Texts { $($key: $en,)* };
        pub static DE: Texts = Texts { $($key: $de,)* };
    };
}

texts! {
    lang_name: "English", "Deutsch";
    console: "Privacy console", "Datenschutz-Konsole";
    skip: "Skip to the content", "Zum Inhalt springen";
    sections: "Sections", "Bereiche";
    languages: "Language", "Sprache";
    overview: "Overview", "Übersicht";
    requests: "Requests", "Anfragen";
    consent: "Consent", "Einwilligungen";
    policy: "Policy", "Richtlinie";
    datastores: "Datastores", "Datenspeicher";
    retention: "Retention", "Aufbewahrung";
    users: "Users and tokens", "Benutzer und Tokens";
    account: "Your account", "Ihr Konto";
    sign_out: "Sign out", "Abmelden";
    signed_in_as: "Signed in as", "Angemeldet als";
    role: "Role", "Rolle";
    role_viewer: "viewer", "Lesend";
    role_dpo: "DPO", "DSB";
    role_admin: "admin", "Administration";
    sign_in: "Sign in", "Anmelden";
    sign_in_intro: "For the privacy team. Sign in with your work address and password.", "Für das Datenschutzteam. Melden Sie sich mit Ihrer Arbeitsadresse und Ihrem Passwort an.";
    email: "E-mail address", "E-Mail-Adresse";
    password: "Password", "Passwort";
    wrong_credentials: "The address or the password is wrong.", "Adresse oder Passwort sind falsch.";
    locked: "Too many failed sign-ins for this address. Try again later.", "Zu viele fehlgeschlagene Anmeldungen für diese Adresse. Versuchen Sie es später erneut.";
    expired: "Your session expired after a time without activity. Please sign in again.", "Ihre Sitzung ist nach einer Zeit ohne Aktivität abgelaufen. Bitte melden Sie sich erneut an.";
    signed_out: "You are signed out.", "Sie sind abgemeldet.";
    totp_title: "Second factor", "Zweiter Faktor";
    totp_intro: "Enter the six-digit code your authenticator app shows.", "Geben Sie den sechsstelligen Code aus Ihrer Authenticator-App ein.";
    totp_code: "Code", "Code";
    totp_hint: "Six digits, e.g. 123456", "Sechs Ziffern, z. B. 123456";
    wrong_code: "The code is wrong or was used already.", "Der Code ist falsch oder wurde schon verwendet.";
    verify: "Verify", "Bestätigen";
    totp_on: "Sign-in asks for a code from your authenticator app.", "Die Anmeldung fragt nach einem Code aus Ihrer Authenticator-App.";
    totp_off: "Sign-in asks for your password only. Add a second factor: an authenticator app (RFC 6238).", "Die Anmeldung fragt nur nach dem Passwort. Fügen Sie einen zweiten Faktor hinzu: eine Authenticator-App (RFC 6238).";
    totp_start: "Set up an authenticator app", "Authenticator-App einrichten";
    totp_scan: "Scan this code with your authenticator app, or type the key, then enter the code it shows.", "Scannen Sie diesen Code mit Ihrer Authenticator-App oder geben Sie den Schlüssel ein und dann den angezeigten Code.";
    totp_key: "Key", "Schlüssel";
    totp_qr: "QR code of the key for an authenticator app", "QR-Code des Schlüssels für eine Authenticator-App";
    totp_done: "The second factor is on.", "Der zweite Faktor ist eingeschaltet.";
    csrf_refused: "This form was not sent from the console's own page, or it is too old. Reload the page and try again.", "Dieses Formular kam nicht von der Konsole selbst oder ist zu alt. Laden Sie die Seite neu und versuchen Sie es erneut.";
    forbidden: "Your role may not do this.", "Ihre Rolle darf das nicht.";
    not_found: "Not found.", "Nicht gefunden.";
    error: "Something went wrong", "Etwas ist schiefgegangen";
    open_requests: "Open requests", "Offene Anfragen";
    due_this_week: "Due within 7 days", "In 7 Tagen fällig";
    overdue: "Overdue", "Überfällig";
    due_soon: "Due soon", "Bald fällig";
    on_time: "On time", "Im Zeitplan";
    by_status: "Open requests by status", "Offene Anfragen nach Status";
    by_urgency: "Open requests by urgency", "Offene Anfragen nach Dringlichkeit";
    consent_rates: "Consent per purpose (current choices)", "Einwilligungen je Zweck (aktuelle Entscheidungen)";
    purpose: "Purpose", "Zweck";
    given: "Given", "Erteilt";
    refused: "Refused", "Abgelehnt";
    withdrawn: "Withdrawn", "Widerrufen";
    rate: "Rate given", "Quote erteilt";
    chart_requests: "Requests received and completed per week", "Eingegangene und abgeschlossene Anfragen je Woche";
    chart_consent: "Consent given, refused and withdrawn per week", "Einwilligungen erteilt, abgelehnt und widerrufen je Woche";
    chart_margin: "Days left to the answer deadline, open requests", "Verbleibende Tage bis zur Antwortfrist, offene Anfragen";
    week_of: "Week of", "Woche ab";
    received: "Received", "Eingegangen";
    completed: "Completed", "Abgeschlossen";
    days_left: "Days left", "Tage übrig";
    count: "Count", "Anzahl";
    figures: "Figures", "Zahlen";
    ledger: "Consent ledger", "Einwilligungs-Ledger";
    verify_ledger: "Verify the ledger now", "Ledger jetzt prüfen";
    ledger_ok: "Intact: {events} events in {chains} chains, {checkpoints} checkpoints checked.", "Intakt: {events} Ereignisse in {chains} Ketten, {checkpoints} Kontrollpunkte geprüft.";
    ledger_broken: "BROKEN: {detail}", "GEBROCHEN: {detail}";
    filters: "Filters", "Filter";
    status: "Status", "Status";
    kind: "Type", "Art";
    jurisdiction: "Jurisdiction", "Rechtsraum";
    assignee: "Assignee", "Zuständig";
    any: "Any", "Alle";
    only_overdue: "Only overdue", "Nur überfällige";
    apply: "Apply", "Anwenden";
    id: "Id", "Id";
    due: "Answer due", "Antwort fällig";
    urgency: "Urgency", "Dringlichkeit";
    previous: "Previous page", "Vorige Seite";
    next: "Next page", "Nächste Seite";
    page_of: "Requests {from}–{to} of {total}", "Anfragen {from}–{to} von {total}";
    none: "None.", "Keine.";
    nobody: "nobody", "niemand";
    request: "Request", "Anfrage";
    requester: "Requester", "Antragsteller";
    details: "Details", "Einzelheiten";
    erased: "(erased)", "(gelöscht)";
    deadlines: "Deadlines", "Fristen";
    acknowledge_by: "Acknowledge by", "Bestätigen bis";
    answer_by: "Answer by", "Antworten bis";
    latest_by: "Latest, with the whole extension", "Spätestens, mit voller Verlängerung";
    paused: "Clock paused since", "Frist angehalten seit";
    timeline: "Timeline", "Verlauf";
    mail: "Mail sent", "Gesendete E-Mails";
    runs: "Datastore runs", "Läufe in Datenspeichern";
    failed_runs: "Failed datastore runs", "Fehlgeschlagene Läufe";
    step: "Step", "Schritt";
    datastore: "Datastore", "Datenspeicher";
    attempts: "Attempts", "Versuche";
    last_error: "Last error", "Letzter Fehler";
    export: "Download the export (ZIP)", "Export herunterladen (ZIP)";
    actions: "Actions", "Aktionen";
    reason: "Reason (told to the requester)", "Begründung (wird mitgeteilt)";
    act_approve: "Approve", "Genehmigen";
    act_deny: "Deny", "Ablehnen";
    act_extend: "Extend the deadline", "Frist verlängern";
    act_pause: "Pause the clock", "Frist anhalten";
    act_resume: "Resume the clock", "Frist fortsetzen";
    act_assign: "Assign", "Zuweisen";
    act_note: "Add a note", "Notiz hinzufügen";
    act_complete: "Complete", "Abschließen";
    act_retry: "Retry the failed run", "Fehlgeschlagenen Lauf wiederholen";
    months: "Months", "Monate";
    days: "Days", "Tage";
    pause_reason: "Why", "Warum";
    awaiting_identity: "Awaiting proof of identity", "Identitätsnachweis ausstehend";
    awaiting_clarification: "Awaiting clarification", "Klärung ausstehend";
    assign_to: "Assign to", "Zuweisen an";
    note: "Note (internal)", "Notiz (intern)";
    done: "Done.", "Erledigt.";
    read_only: "Your role reads only; actions need the DPO or admin role.", "Ihre Rolle darf nur lesen; Aktionen brauchen die Rolle DSB oder Administration.";
    lookup: "Look a person up", "Person nachschlagen";
    lookup_by: "By", "Nach";
    by_email: "E-mail address", "E-Mail-Adresse";
    by_user_id: "User id", "Benutzer-Id";
    by_device_id: "Device id", "Geräte-Id";
    identifier: "Identifier", "Kennung";
    look_up: "Look up", "Nachschlagen";
    current_choices: "Current choices", "Aktuelle Entscheidungen";
    history: "Ledger history", "Ledger-Verlauf";
    not_asked: "not asked", "nicht gefragt";
    yes: "yes", "ja";
    no: "no", "nein";
    at: "At", "Zeitpunkt";
    source: "Source", "Quelle";
    version: "Policy version", "Richtlinienversion";
    receipt: "Receipt", "Beleg";
    reask: "must be asked again", "muss neu gefragt werden";
    invalid_id: "This is not a valid identifier of that kind.", "Das ist keine gültige Kennung dieser Art.";
    active_version: "Active version", "Aktive Version";
    earlier_versions: "Earlier versions on record", "Frühere gespeicherte Versionen";
    compare: "Compare two versions", "Zwei Versionen vergleichen";
    from: "From", "Von";
    to: "To", "Bis";
    material: "material", "wesentlich";
    non_material: "not material", "nicht wesentlich";
    no_changes: "No changes.", "Keine Änderungen.";
    change: "Change", "Änderung";
    purposes: "Purposes", "Zwecke";
    legal_basis: "Legal basis", "Rechtsgrundlage";
    name: "Name", "Name";
    dataset: "Dataset", "Datensatz";
    registered: "Registered", "Registriert";
    recent_runs: "Recent runs", "Letzte Läufe";
    holds: "Legal holds", "Rechtliche Sperren";
    matter: "Matter", "Vorgang";
    placed: "Placed", "Gesetzt";
    lifted: "Lifted", "Aufgehoben";
    rules: "Retention rules", "Aufbewahrungsregeln";
    category: "Category", "Kategorie";
    keep_for: "Kept for", "Aufbewahrt für";
    purges: "Recent purges", "Letzte Löschungen";
    place_hold: "Place a hold", "Sperre setzen";
    lift: "Lift", "Aufheben";
    lift_reason: "Why lifted", "Grund der Aufhebung";
    add_user: "Add a user", "Benutzer hinzufügen";
    disable: "Disable", "Deaktivieren";
    enable: "Enable", "Aktivieren";
    disabled: "disabled", "deaktiviert";
    active: "active", "aktiv";
    second_factor: "Second factor", "Zweiter Faktor";
    tokens: "API tokens", "API-Tokens";
    create_token: "Create a token", "Token erstellen";
    revoke: "Revoke", "Widerrufen";
    revoked: "revoked", "widerrufen";
    token_once: "The new token, shown only this once:", "Das neue Token, nur dieses eine Mal angezeigt:";
    created: "Created", "Erstellt";
    st_awaiting_verification: "awaiting verification", "Bestätigung ausstehend";
    st_verified: "verified", "bestätigt";
    st_approved: "approved", "genehmigt";
    st_in_progress: "in progress", "in Bearbeitung";
    st_completed: "completed", "abgeschlossen";
    st_denied: "denied", "abgelehnt";
    st_forwarded: "forwarded", "weitergeleitet";
    st_abandoned: "abandoned", "aufgegeben";
    k_access: "access", "Auskunft";
    k_rectification: "rectification", "Berichtigung";
    k_erasure: "erasure", "Löschung";
    k_restriction: "restriction", "Einschränkung";
    k_objection: "objection", "Widerspruch";
}

/// The texts in `lang` (`en` or `de`).
pub fn texts(lang: &str) -> &'static Texts {
    if lang == "de" {
        &DE
    } else {
        &EN
    }
}

pub const LANGUAGES: [&str; 2] = ["en", "de"];
