//! The data preview of a small competition-like directory, snapshot-tested: this is the text a coder sees.

use std::fs;
use std::path::Path;

use mlm_task::preview::{data_preview, PREVIEW_CHARACTER_LIMIT};

fn write(root: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    let path = root.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, contents)
}

/// A Titanic-like competition: tables with integers, floats with missing cells, booleans and text, a nested
/// image folder of 20 files, and a JSON metadata file.
fn competition(root: &Path) -> std::io::Result<()> {
    write(
        root,
        "train.csv",
        b"PassengerId,Survived,Pclass,Name,Sex,Age,Fare,Cabin,IsAlone\n\
          1,0,3,\"Braund, Mr. Owen Harris\",male,22,7.25,,False\n\
          2,1,1,\"Cumings, Mrs. John Bradley (Florence Briggs Thayer)\",female,38,71.2833,C85,False\n\
          3,1,3,\"Heikkinen, Miss. Laina\",female,26,7.925,NA,True\n\
          4,1,1,\"Futrelle, Mrs. Jacques Heath (Lily May Peel)\",female,35,53.1,C123,False\n\
          5,0,3,\"Allen, Mr. William Henry\",male,35,8.05,,True\n\
          6,0,3,\"Moran, Mr. James\",male,,8.4583,,True\n\
          7,0,1,\"McCarthy, Mr. Timothy J\",male,54,51.8625,E46,True\n\
          8,0,3,\"Palsson, Master. Gosta Leonard\",male,2,21.075,,False\n\
          9,1,3,\"Johnson, Mrs. Oscar W (Elisabeth Vilhelmina Berg)\",female,27,11.1333,,False\n\
          10,1,2,\"Nasser, Mrs. Nicholas (Adele Achem)\",female,14,30.0708,,False\n\
          11,1,3,\"Sandstrom, Miss. Marguerite Rut\",female,4,16.7,G6,False\n\
          12,1,1,\"Bonnell, Miss. Elizabeth\",female,58,26.55,C103,True\n",
    )?;
    write(
        root,
        "test.csv",
        b"PassengerId,Pclass,Name,Sex,Age,Fare,Cabin,IsAlone\n\
          892,3,\"Kelly, Mr. James\",male,34.5,7.8292,,True\n\
          893,3,\"Wilkes, Mrs. James (Ellen Needs)\",female,47,7,,False\n\
          894,2,\"Myles, Mr. Thomas Francis\",male,62,9.6875,,True\n",
    )?;
    write(
        root,
        "sample_submission.csv",
        b"PassengerId,Survived\n892,0\n893,0\n894,0\n",
    )?;
    for index in 0..20 {
        let name = format!("images/train/{index:03}.png");
        write(root, &name, &vec![0; 100 + index * 10])?;
    }
    write(root, "images/README.txt", b"one picture per passenger\n")?;
    write(
        root,
        "metadata.json",
        br#"{
  "competition": "titanic",
  "classes": [{"id": 0, "name": "died"}, {"id": 1, "name": "survived"}],
  "image_size": {"width": 64, "height": 64},
  "splits": {"train": 12, "test": 3},
  "license": null
}"#,
    )
}

#[test]
fn preview_of_a_competition_directory() {
    let dir = tempfile::tempdir().unwrap();
    competition(dir.path()).unwrap();
    let preview = data_preview(dir.path()).unwrap();
    assert!(preview.chars().count() <= PREVIEW_CHARACTER_LIMIT);
    insta::assert_snapshot!(preview);
}

#[test]
fn preview_is_the_same_text_each_time() {
    let dir = tempfile::tempdir().unwrap();
    competition(dir.path()).unwrap();
    assert_eq!(
        data_preview(dir.path()).unwrap(),
        data_preview(dir.path()).unwrap()
    );
}
