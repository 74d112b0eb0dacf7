% Score images with LOVE's NRIQA MATLAB code (patched copy) in GNU Octave.
% Called by run.py as: octave-cli score_images.m <love_nriqa_copy> <list.txt> <out.csv>
% Each line of list.txt is an image path; out.csv gets one row per image:
% path, hosa, qac, bmpri, bpri, the seconds each took, and the seconds BMPRI's
% five JPEG 2000 round trips take alone (the shim, timed again after BMPRI).
args = argv();
root = args{1};
pkg load image
addpath(fullfile(root, 'HOSA_release_v0'));
addpath(fullfile(root, 'QAC'));
addpath(fullfile(root, 'BMPRI'));
addpath(fullfile(root, 'BPRI'));
addpath(fullfile(fileparts(mfilename('fullpath')), 'shims'));
paths = strtrim(strsplit(fileread(args{2}), "\n"));
paths = paths(~cellfun(@isempty, paths));
fid = fopen(args{3}, 'w');
fprintf(fid, 'path,hosa,qac,bmpri,bpri,hosa_s,qac_s,bmpri_s,bpri_s,bmpri_jp2_s');
fprintf(fid, ',bmpri_f%d', 1:20);
fprintf(fid, ',lss_s,lss_n,pss\n');
for i = 1:numel(paths)
  img = imread(paths{i});
  t = tic; h = calcHOSA(img); th = toc(t);
  t = tic; q = calcQAC(img); tq = toc(t);
  % BMPRI.m and BPRI.m change folder and write temporary files: run from the copy.
  here = pwd; cd(fullfile(root, 'BMPRI'));
  % BMPRI.m is these two calls; they are made separately to keep the features.
  t = tic; f = BMPRI_feature(img); m = BMPRI_score(f); tm = toc(t);
  t = tic;
  for r = [150 175 200 225 250]
    jp2_roundtrip(img, 'codec_timing.jp2', r);
  end
  tj = toc(t);
  cd(fullfile(root, 'BPRI'));
  t = tic; b = BPRI(img); tb = toc(t);
  g = [LSSs(img), LSSn(img), PSS(img)];
  cd(here);
  fprintf(fid, '%s,%.17g,%.17g,%.17g,%.17g,%.4f,%.4f,%.4f,%.4f,%.4f', paths{i}, h, q, m, b, ...
          th, tq, tm, tb, tj);
  fprintf(fid, ',%.17g', f, g);
  fprintf(fid, '\n');
  fflush(fid);
end
fclose(fid);
