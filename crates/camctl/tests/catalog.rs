//! The import catalog and file-name templates, through `camctl pull` against `camctl emulate`:
//! what was imported is not fetched again by `pull --new` wherever its copy went, every record's
//! SHA-256 is the saved file's, several processes share one catalog, and templates name the files.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Emulator, camctl, files_under, lossy, write_random_file};

/// camctl with its own catalog.
fn with_catalog(catalog: &Path, args: &[&str]) -> Output {
    camctl().env("CAMCTL_CATALOG", catalog).args(args).output().expect("run camctl")
}

fn ok(catalog: &Path, args: &[&str]) -> String {
    let out = with_catalog(catalog, args);
    assert!(out.status.success(), "camctl {args:?}: {}\n{}", lossy(&out.stderr), lossy(&out.stdout));
    lossy(&out.stdout)
}

/// `sha256sum FILE`, the independent check of the recorded digest.
fn sha256sum(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().expect("sha256sum");
    lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

fn catalog_list(catalog: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&ok(catalog, &["catalog", "list", "--json"])).unwrap()
}

fn media_with(dir: &Path, files: &[(&str, usize)]) {
    for (seed, (name, len)) in files.iter().enumerate() {
        write_random_file(&dir.join(name), *len, seed as u64 + 1);
    }
}

#[test]
fn pull_records_every_import_with_its_sha256_and_new_skips_them_after_a_move() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("state/catalog.db");
    let media = tmp.path().join("media");
    media_with(&media, &[("DCIM/100EMU01/IMG_0001.JPG", 3000), ("DCIM/100EMU01/MOV_0002.MP4", 2 << 20)]);
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("photos");
    let out = ok(&catalog, &["pull", &emu.url, target.to_str().unwrap()]);
    assert!(out.contains("2 fetched, 0 failed"), "{out}");

    let records = catalog_list(&catalog);
    assert_eq!(records.len(), 2, "{records:?}");
    for record in &records {
        let local = PathBuf::from(record["local_path"].as_str().unwrap());
        assert!(local.is_absolute() && local.starts_with(&target), "{record}");
        assert_eq!(record["sha256"], sha256sum(&local), "{record}");
        let camera_path = record["camera_path"].as_str().unwrap();
        assert_eq!(std::fs::read(&local).unwrap(), std::fs::read(media.join(camera_path)).unwrap());
        assert_eq!(record["protocol"], "ptpip");
        assert_eq!(record["size"], std::fs::metadata(&local).unwrap().len());
    }

    // The photographer moves the pictures away: `--new` fetches nothing, a plain pull refetches.
    let moved = tmp.path().join("archive");
    std::fs::rename(&target, &moved).unwrap();
    let out = ok(&catalog, &["pull", "--new", &emu.url, target.to_str().unwrap()]);
    assert!(out.contains("0 fetched, 0 failed, 0 already present, 2 imported before"), "{out}");
    assert!(!target.exists() || files_under(&target).is_empty(), "nothing written");
    let json = ok(&catalog, &["pull", "--new", "--json", &emu.url, target.to_str().unwrap()]);
    assert!(json.lines().all(|l| l.contains(r#""status":"imported""#)), "{json}");

    // A new picture on the card comes with --new; the old ones still do not.
    write_random_file(&media.join("DCIM/100EMU01/IMG_0003.JPG"), 5000, 9);
    drop(emu);
    let emu = Emulator::start("ptpip", &media, &[]);
    let out = ok(&catalog, &["pull", "--new", &emu.url, target.to_str().unwrap()]);
    assert!(out.contains("1 fetched, 0 failed, 0 already present, 2 imported before"), "{out}");
    assert_eq!(files_under(&target), [PathBuf::from("DCIM/100EMU01/IMG_0003.JPG")]);

    // Forgetting one brings it back.
    let out = ok(&catalog, &["catalog", "forget", "DCIM/100EMU01/IMG_0001.JPG"]);
    assert!(out.contains("forgot 1"), "{out}");
    let out = ok(&catalog, &["pull", "--new", &emu.url, target.to_str().unwrap()]);
    assert!(out.contains("1 fetched") && out.contains("2 imported before"), "{out}");
    assert_eq!(catalog_list(&catalog).len(), 3);

    // `forget` without a target refuses rather than wiping everything.
    let out = with_catalog(&catalog, &["catalog", "forget"]);
    assert!(!out.status.success() && lossy(&out.stderr).contains("--all"), "{}", lossy(&out.stderr));
    let out = ok(&catalog, &["catalog", "forget", "--all"]);
    assert!(out.contains("forgot 3"), "{out}");
    assert!(catalog_list(&catalog).is_empty());
}

#[test]
fn files_already_in_the_folder_are_recorded_once_so_new_skips_them_later() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    media_with(&media, &[("DCIM/100EMU01/IMG_0001.JPG", 4000)]);
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("photos");
    // Imported before the catalog existed (another catalog stands for "none").
    let first = tmp.path().join("old.db");
    ok(&first, &["pull", &emu.url, target.to_str().unwrap()]);
    let catalog = tmp.path().join("new.db");
    let out = ok(&catalog, &["pull", &emu.url, target.to_str().unwrap()]);
    assert!(out.contains("0 fetched, 0 failed, 1 already present"), "{out}");
    let records = catalog_list(&catalog);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["sha256"], sha256sum(&target.join("DCIM/100EMU01/IMG_0001.JPG")));
    std::fs::remove_dir_all(&target).unwrap();
    let out = ok(&catalog, &["pull", "--new", &emu.url, target.to_str().unwrap()]);
    assert!(out.contains("1 imported before"), "{out}");
}

#[test]
fn several_processes_share_one_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalog.db");
    let emulators: Vec<Emulator> = (0..4)
        .map(|i| {
            let media = tmp.path().join(format!("media{i}"));
            let names: Vec<String> = (1..=12).map(|n| format!("DCIM/100EMU01/C{i}_{n:04}.JPG")).collect();
            let files: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), 1500)).collect();
            media_with(&media, &files);
            Emulator::start("ptpip", &media, &[])
        })
        .collect();
    // Four pulls at once, each recording 12 files into the same catalog.
    let children: Vec<_> = emulators
        .iter()
        .enumerate()
        .map(|(i, emu)| {
            camctl()
                .env("CAMCTL_CATALOG", &catalog)
                .args(["pull", &emu.url])
                .arg(tmp.path().join(format!("photos{i}")))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", lossy(&out.stderr));
        assert!(lossy(&out.stdout).contains("12 fetched, 0 failed"), "{}", lossy(&out.stdout));
    }
    let records = catalog_list(&catalog);
    assert_eq!(records.len(), 4 * 12);
    for i in 0..4 {
        let prefix = format!("DCIM/100EMU01/C{i}_");
        let folder = tmp.path().join(format!("photos{i}"));
        let mine: Vec<_> =
            records.iter().filter(|r| r["camera_path"].as_str().unwrap().starts_with(&prefix)).collect();
        assert_eq!(mine.len(), 12);
        assert!(mine.iter().all(|r| Path::new(r["local_path"].as_str().unwrap()).starts_with(&folder)));
    }
}

#[test]
fn filename_templates_name_the_files_and_never_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalog.db");
    let media = tmp.path().join("media");
    media_with(&media, &[("DCIM/100EMU01/IMG_0001.JPG", 3000), ("DCIM/101EMU01/MOV_0002.MP4", 7000)]);
    let emu = Emulator::start("ptpip", &media, &[]);
    // The dates as the camera reports them.
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&catalog, &["ls", "--json", &emu.url])).unwrap();
    let date_of = |path: &str| -> (String, String, String) {
        let item = listed.iter().find(|i| i["path"] == path).unwrap();
        let date = item["date"].as_str().expect("the emulator dates its files");
        (date[0..4].to_string(), date[5..7].to_string(), date[8..10].to_string())
    };
    let target = tmp.path().join("photos");
    let template = "%Y/%m/%d/%f_%03n.%C";
    ok(&catalog, &["pull", "--filename", template, &emu.url, target.to_str().unwrap()]);
    let (y1, m1, d1) = date_of("DCIM/100EMU01/IMG_0001.JPG");
    let (y2, m2, d2) = date_of("DCIM/101EMU01/MOV_0002.MP4");
    let expected: Vec<PathBuf> = {
        let mut v = vec![
            PathBuf::from(format!("{y1}/{m1}/{d1}/IMG_0001_001.JPG")),
            PathBuf::from(format!("{y2}/{m2}/{d2}/MOV_0002_002.MP4")),
        ];
        v.sort();
        v
    };
    assert_eq!(files_under(&target), expected);
    assert_eq!(
        std::fs::read(target.join(expected.iter().find(|p| p.to_string_lossy().contains("IMG")).unwrap()))
            .unwrap(),
        std::fs::read(media.join("DCIM/100EMU01/IMG_0001.JPG")).unwrap()
    );
    // Camera folder and plain name; a different file already holding the name is kept.
    let flat = tmp.path().join("flat");
    std::fs::create_dir_all(flat.join("DCIM/100EMU01")).unwrap();
    std::fs::write(flat.join("DCIM/100EMU01/IMG_0001.JPG"), b"someone else's picture").unwrap();
    let out = with_catalog(&catalog, &["pull", "--filename", "%F/%f.%C", &emu.url, flat.to_str().unwrap()]);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    assert_eq!(std::fs::read(flat.join("DCIM/100EMU01/IMG_0001.JPG")).unwrap(), b"someone else's picture");
    assert_eq!(
        std::fs::read(flat.join("DCIM/100EMU01/IMG_0001~2.JPG")).unwrap(),
        std::fs::read(media.join("DCIM/100EMU01/IMG_0001.JPG")).unwrap()
    );
    assert!(flat.join("DCIM/101EMU01/MOV_0002.MP4").is_file());
    // A bad template is refused before the camera is contacted.
    let out =
        with_catalog(&catalog, &["pull", "--filename", "%q", "ptpip://127.0.0.1:1", flat.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(lossy(&out.stderr).contains("unknown code %q"), "{}", lossy(&out.stderr));
}

#[test]
fn no_catalog_records_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalog.db");
    let media = tmp.path().join("media");
    media_with(&media, &[("DCIM/100EMU01/IMG_0001.JPG", 3000)]);
    let emu = Emulator::start("ptpip", &media, &[]);
    let out = ok(&catalog, &["pull", "--no-catalog", &emu.url, tmp.path().join("p").to_str().unwrap()]);
    assert!(out.contains("1 fetched"), "{out}");
    assert!(catalog_list(&catalog).is_empty());
    let refused = with_catalog(&catalog, &["pull", "--no-catalog", "--new", &emu.url, "x"]);
    assert!(!refused.status.success(), "--new needs the catalog");
}

#[test]
fn a_template_giving_two_camera_files_one_name_keeps_both_and_a_rerun_knows_them() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalog.db");
    let media = tmp.path().join("media");
    // Same name and size in two folders: `%f.%C` drops the folder.
    media_with(&media, &[("DCIM/100EMU01/IMG_0001.JPG", 3000), ("DCIM/101EMU01/IMG_0001.JPG", 3000)]);
    let emu = Emulator::start("ptpip", &media, &[]);
    let target = tmp.path().join("flat");
    let out = ok(&catalog, &["pull", "--filename", "%f.%C", &emu.url, target.to_str().unwrap()]);
    assert!(out.contains("2 fetched"), "{out}");
    let mut contents: Vec<Vec<u8>> =
        ["IMG_0001.JPG", "IMG_0001~2.JPG"].iter().map(|n| std::fs::read(target.join(n)).unwrap()).collect();
    let mut expected: Vec<Vec<u8>> = ["DCIM/100EMU01/IMG_0001.JPG", "DCIM/101EMU01/IMG_0001.JPG"]
        .iter()
        .map(|p| std::fs::read(media.join(p)).unwrap())
        .collect();
    contents.sort();
    expected.sort();
    assert_eq!(contents, expected, "each camera file kept whole");
    // Again: both are known where they were saved, nothing is fetched or duplicated.
    let out = ok(&catalog, &["pull", "--filename", "%f.%C", &emu.url, target.to_str().unwrap()]);
    assert!(out.contains("0 fetched, 0 failed, 2 already present"), "{out}");
    assert_eq!(files_under(&target).len(), 2);
}
