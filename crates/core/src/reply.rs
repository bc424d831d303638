//! Reply classification by rules: what a prospect's answer to a cold email
//! means. Rules look for phrases in the lower-cased text; the most
//! decisive class wins when several match (an unsubscribe request beats
//! everything, an out-of-office beats interest, a "no" beats a "yes").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyClass {
    Positive,
    Negative,
    OutOfOffice,
    UnsubscribeRequest,
    WrongPerson,
    /// No rule matched.
    Unclear,
}

str_enum!(ReplyClass {
    Positive => "positive",
    Negative => "negative",
    OutOfOffice => "out_of_office",
    UnsubscribeRequest => "unsubscribe_request",
    WrongPerson => "wrong_person",
    Unclear => "unclear",
});

/// Phrases per class, in the order classes are decided.
const RULES: &[(ReplyClass, &[&str])] = &[
    (
        ReplyClass::UnsubscribeRequest,
        &[
            "unsubscribe",
            "remove me",
            "take me off",
            "stop emailing",
            "stop contacting",
            "do not contact",
            "don't contact",
            "opt out",
            "opt-out",
        ],
    ),
    (
        ReplyClass::OutOfOffice,
        &[
            "out of office",
            "out of the office",
            "on vacation",
            "on holiday",
            "on leave",
            "away until",
            "automatic reply",
            "auto-reply",
            "autoreply",
            "limited access to email",
        ],
    ),
    (
        ReplyClass::WrongPerson,
        &[
            "wrong person",
            "not the right person",
            "no longer with",
            "no longer works",
            "left the company",
            "not responsible for",
            "you should contact",
            "reach out to my colleague",
        ],
    ),
    (
        ReplyClass::Negative,
        &[
            "not interested",
            "no interest",
            "no thanks",
            "no thank you",
            "not a fit",
            "not for us",
            "we're all set",
            "we are all set",
            "already have a",
            "not at this time",
            "not right now",
        ],
    ),
    (
        ReplyClass::Positive,
        &[
            "interested",
            "sounds good",
            "let's talk",
            "lets talk",
            "let's chat",
            "happy to chat",
            "book a call",
            "schedule a call",
            "set up a call",
            "set up a meeting",
            "send me more",
            "tell me more",
            "more info",
            "how much",
            "pricing",
            "calendar",
            "what time works",
            "available",
        ],
    ),
];

/// Classifies a reply's text.
pub fn classify(text: &str) -> ReplyClass {
    let lower = text.to_lowercase();
    RULES
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| lower.contains(p)))
        .map_or(ReplyClass::Unclear, |(class, _)| *class)
}

/// The class an Instantly interest event states outright, if it is one.
pub fn class_of_event(event_type: &str) -> Option<ReplyClass> {
    match event_type {
        "lead_interested" | "lead_meeting_booked" | "lead_meeting_completed" | "lead_closed" => {
            Some(ReplyClass::Positive)
        }
        "lead_not_interested" => Some(ReplyClass::Negative),
        "lead_out_of_office" | "auto_reply_received" => Some(ReplyClass::OutOfOffice),
        "lead_wrong_person" => Some(ReplyClass::WrongPerson),
        "lead_unsubscribed" => Some(ReplyClass::UnsubscribeRequest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_is_recognised() {
        let cases = [
            (
                "Yes, I'm interested — can we book a call Tuesday?",
                ReplyClass::Positive,
            ),
            ("Sounds good, send me more info", ReplyClass::Positive),
            ("Not interested, thanks.", ReplyClass::Negative),
            ("No thanks, we're all set", ReplyClass::Negative),
            (
                "I am out of the office until Monday.",
                ReplyClass::OutOfOffice,
            ),
            (
                "Automatic reply: on vacation, interested parties call Bob",
                ReplyClass::OutOfOffice,
            ),
            (
                "Please unsubscribe me, I'm interested in nothing",
                ReplyClass::UnsubscribeRequest,
            ),
            ("Jane no longer works here.", ReplyClass::WrongPerson),
            ("Who is this?", ReplyClass::Unclear),
            ("", ReplyClass::Unclear),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text), want, "{text}");
        }
    }

    #[test]
    fn interest_events_count() {
        assert_eq!(
            class_of_event("lead_interested"),
            Some(ReplyClass::Positive)
        );
        assert_eq!(
            class_of_event("lead_meeting_booked"),
            Some(ReplyClass::Positive)
        );
        assert_eq!(
            class_of_event("lead_not_interested"),
            Some(ReplyClass::Negative)
        );
        assert_eq!(class_of_event("email_opened"), None);
        for c in ReplyClass::ALL {
            assert_eq!(ReplyClass::parse(c.as_str()), Some(*c));
        }
    }
}
