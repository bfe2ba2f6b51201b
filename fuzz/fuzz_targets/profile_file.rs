//! The Alibaba Cloud CLI profile file (`~/.aliyun/config.json`) through the credential chain:
//! any contents resolve or fail with an error, never a panic. The file lives in one private
//! temporary HOME per fuzzing process, rewritten each run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;

fn home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = std::env::temp_dir().join(format!("grantguard-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(home.join(".aliyun")).expect("temporary HOME");
        home
    })
}

fuzz_target!(|data: &[u8]| {
    let home = home();
    let file = home.join(".aliyun/config.json");
    std::fs::write(&file, data).expect("write the profile file");
    // Owner-only, so the permission check passes and the parser is what runs.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    let env = |_: &str| None::<String>;
    let _ = grantguard::credentials::resolve(Some("p"), &env, Some(home));
    let _ = grantguard::credentials::resolve(None, &env, Some(home));
});
