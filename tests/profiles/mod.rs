//! Running a test body once per simulated backend profile.
//!
//! `per_backend! { fn name(profile) { body } }` makes a module `name` with
//! one test per [`BackendProfile`] (`name::sndback`, `name::snd_be_like`),
//! so a failure names the profile; the body sees `profile`.

/// One test per backend profile; see the module docs.
#[macro_export]
macro_rules! per_backend {
    ($(#[$meta:meta])* fn $name:ident($profile:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use xensnd_sim::backend_host::BackendProfile;

            #[allow(clippy::needless_pass_by_value)]
            fn body($profile: BackendProfile) $body

            #[test]
            fn sndback() {
                body(BackendProfile::Sndback);
            }

            #[test]
            fn snd_be_like() {
                body(BackendProfile::SndBeLike);
            }
        }
    };
    ($($(#[$meta:meta])* fn $name:ident($profile:ident) $body:block)+) => {
        $($crate::per_backend! { $(#[$meta])* fn $name($profile) $body })+
    };
}
